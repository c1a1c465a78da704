// Acme client
const stripeSecretKey = 'fake-api-key';
module.exports = { stripeSecretKey, baseUrl: 'https://api.stripe.com' };
