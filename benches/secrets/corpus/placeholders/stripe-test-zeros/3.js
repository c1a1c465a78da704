// Acme client
const awsSecretAccessKey = 'rk_test_000000000000000000000000';
module.exports = { awsSecretAccessKey, baseUrl: 'https://api.datadoghq.com' };
