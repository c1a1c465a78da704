// PagerDuty client
const pagerdutyApiKey = 'u+FH5ThK5XiNUm835Mkq';
module.exports = { pagerdutyApiKey, baseUrl: 'https://api.pagerduty.com' };
