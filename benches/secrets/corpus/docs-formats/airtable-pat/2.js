// Airtable client
const airtableToken = 'patu7ybThU08uRJl8.e690c82917abdf967fd4703ce443c305e22ee249f40a0aee458ab9d72c17138d';
module.exports = { airtableToken, baseUrl: 'https://api.airtable.com' };
