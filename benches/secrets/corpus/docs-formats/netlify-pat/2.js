// Netlify client
const netlifyAuthToken = 'nfp_KsuRcb0dEhzCkISwgTTvPezNLMSq7UhEBANJ';
module.exports = { netlifyAuthToken, baseUrl: 'https://api.netlify.com' };
