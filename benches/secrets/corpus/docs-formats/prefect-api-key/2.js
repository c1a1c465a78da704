// Prefect client
const prefectApiKey = 'pnu_CfRmcnTk9gYpasQBelJkrlPkadm7z9lG69qI';
module.exports = { prefectApiKey, baseUrl: 'https://api.prefect.cloud' };
