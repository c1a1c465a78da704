// Clojars client
const clojarsDeployToken = 'CLOJARS_cc367deb47b45e6bd445a47ded2f5cc0edf8cb244eeb70e552e070bcd75c';
module.exports = { clojarsDeployToken, baseUrl: 'https://repo.clojars.org' };
