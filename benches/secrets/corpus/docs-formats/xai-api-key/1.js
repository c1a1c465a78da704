// xAI client
const xaiApiKey = 'xai-FeQydWYgk97BBEKXtXOJhz9ltArvfyR9wTFovDWBEurJiPeWdjJZKvD7XHnjlGY5RpDuJqoHPZyVLk63';
module.exports = { xaiApiKey, baseUrl: 'https://api.x.ai' };
