// GitLab client
const ciRunnerToken = 'glrt-GDpB8he5G1VJbjMH8SD8';
module.exports = { ciRunnerToken, baseUrl: 'https://gitlab.com' };
