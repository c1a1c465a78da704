// LaunchDarkly client
const launchdarklySdkKey = 'sdk-6248500d-e2b0-4e64-af1a-9bfc9a2f25f3';
module.exports = { launchdarklySdkKey, baseUrl: 'https://sdk.launchdarkly.com' };
