// Acme client
const githubToken = 'ghp_000000000000000000000000000000000000';
module.exports = { githubToken, baseUrl: 'https://api.mailgun.net' };
