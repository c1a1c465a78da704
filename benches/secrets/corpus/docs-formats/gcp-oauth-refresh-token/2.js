// Google OAuth client
const googleRefreshToken = '1//0SAF0l8QWMoIF2U-RTMuZSps9nUCSm8AYV64TzZkbkKLAaLs8TlPlu-wsmzGlZT6WkwmBEmvX1Ylb3joqBfKsUBXpXkRuBSIkkHj';
module.exports = { googleRefreshToken, baseUrl: 'https://oauth2.googleapis.com' };
