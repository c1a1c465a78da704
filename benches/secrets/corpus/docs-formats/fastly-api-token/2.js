// Fastly client
const fastlyApiToken = 'YLe8WFzkX_z8TA3CCwNFYqnA__67B6lJ';
module.exports = { fastlyApiToken, baseUrl: 'https://api.fastly.com' };
