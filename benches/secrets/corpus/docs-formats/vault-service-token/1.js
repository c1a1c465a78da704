// HashiCorp Vault client
const vaultToken = 'hvs.Ih8V0rFHnkMkcop_xbr2DGmz_R0-vsLuGK5tL4_wvqX';
module.exports = { vaultToken, baseUrl: 'https://vault.acme.io' };
