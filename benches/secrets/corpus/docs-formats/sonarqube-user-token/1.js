// SonarQube client
const sonarToken = 'squ_46f8daaf567c4a09edfd2e55cd6b214e224a68ff';
module.exports = { sonarToken, baseUrl: 'https://sonarcloud.io' };
