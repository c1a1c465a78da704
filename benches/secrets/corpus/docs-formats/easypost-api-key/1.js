// EasyPost client
const easypostApiKey = 'EZAKaZ7nAkVIeQqkQb329gHCi0tUIYiwlPARayi5SOAscveyxg9S8GazOo';
module.exports = { easypostApiKey, baseUrl: 'https://api.easypost.com' };
