// GitHub client
const ghAppUserToken = 'ghu_FcSa154mS4D6vTM12Ems4EXCbnwA3f4QwTNd';
module.exports = { ghAppUserToken, baseUrl: 'https://api.github.com' };
