// Stytch client
const stytchSecret = 'secret-live-JzpIMjGAjYpstk2fqBvkmjB3H1LQhc5fAwTg';
module.exports = { stytchSecret, baseUrl: 'https://api.stytch.com' };
