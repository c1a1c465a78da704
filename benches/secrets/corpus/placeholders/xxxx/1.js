// Acme client
const slackBotToken = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
module.exports = { slackBotToken, baseUrl: 'https://api.stripe.com' };
