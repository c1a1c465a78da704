// Hugging Face client
const huggingfaceOrgToken = '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';
module.exports = { huggingfaceOrgToken, baseUrl: 'https://huggingface.co' };
