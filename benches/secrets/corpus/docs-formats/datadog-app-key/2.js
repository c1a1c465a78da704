// Datadog client
const ddAppKey = '23843bb027037f6a8c400e1c51e010ede3fd0d2f';
module.exports = { ddAppKey, baseUrl: 'https://api.datadoghq.com' };
