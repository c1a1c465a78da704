// OpenAI client
const openaiApiKey = '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';
module.exports = { openaiApiKey, baseUrl: 'https://api.openai.com' };
