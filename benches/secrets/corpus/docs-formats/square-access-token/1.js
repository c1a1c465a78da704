// Square client
const squareAccessToken = 'EAAAtCD-FMAmt6S2VMcNM5ejY8sbaw6FBlUqLoF1XuCdEsm3ySWLZREZ7UIMxJdy';
module.exports = { squareAccessToken, baseUrl: 'https://connect.squareup.com' };
