// Azure API Management client
const apimSubscriptionKey = '61557301da91cca26deaf516303b0818';
module.exports = { apimSubscriptionKey, baseUrl: 'https://contoso.azure-api.net' };
