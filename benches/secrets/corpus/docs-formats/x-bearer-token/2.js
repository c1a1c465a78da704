// X (Twitter) client
const twitterBearerToken = 'AAAAAAAAAAAAAAAAAAAAAuezCIdJZYRi7sVvtn0d%3DRXp5dGvtHJSbqvfr281NkWRFj8V4y2bg39h83CdQXtoxvr8AhM';
module.exports = { twitterBearerToken, baseUrl: 'https://api.twitter.com' };
