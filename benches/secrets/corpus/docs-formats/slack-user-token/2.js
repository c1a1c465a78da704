// Slack client
const slackUserToken = 'xoxp-4432180992208-6877152918941-3890922163151-a740a7c9f9c9c03eeb85d97ec04a7184';
module.exports = { slackUserToken, baseUrl: 'https://slack.com' };
