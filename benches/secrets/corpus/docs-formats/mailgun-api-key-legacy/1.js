// Mailgun client
const mailgunKey = 'key-3c8cf0f17e04def7a3609a58545852d1';
module.exports = { mailgunKey, baseUrl: 'https://api.mailgun.net' };
