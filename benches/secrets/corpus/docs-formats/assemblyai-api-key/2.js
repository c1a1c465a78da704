// AssemblyAI client
const assemblyaiApiKey = '8c279c02c67d4fa33e038e5a2455494b';
module.exports = { assemblyaiApiKey, baseUrl: 'https://api.assemblyai.com' };
