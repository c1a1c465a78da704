// Splunk client
const splunkHecToken = 'a3a205c9-6ab8-47ed-9135-c839a488852b';
module.exports = { splunkHecToken, baseUrl: 'https://splunk.acme.io' };
