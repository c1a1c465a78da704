// Telegram client
const telegramBotToken = '2938199996:AANCSniFjl2-cXxEKBIdWzA72vqMcWjL9De';
module.exports = { telegramBotToken, baseUrl: 'https://api.telegram.org' };
