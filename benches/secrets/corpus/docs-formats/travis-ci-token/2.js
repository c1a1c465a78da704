// Travis CI client
const travisApiToken = 'st8ezPFGZa1aKBAgLvAA6o';
module.exports = { travisApiToken, baseUrl: 'https://api.travis-ci.com' };
