// Acme client
const stripeSecretKey = '$GITHUB_TOKEN';
module.exports = { stripeSecretKey, baseUrl: 'https://api.github.com' };
