// Doppler client
const dopplerSaToken = 'dp.sa.j8qWdD1SSHfDTeNLUvW8kHzAgTueLSkLwRoxR0c1h53';
module.exports = { dopplerSaToken, baseUrl: 'https://api.doppler.com' };
