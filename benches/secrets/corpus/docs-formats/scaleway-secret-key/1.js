// Scaleway client
const scwSecretKey = 'bb9a4726-83dd-48e2-80c6-db4e056ae386';
module.exports = { scwSecretKey, baseUrl: 'https://api.scaleway.com' };
