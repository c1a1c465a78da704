// AWS client
const awsSecretAccessKey = 'QQwP9F7WpTEWSGyQVbjqtDjv1Tx5HEqWEPflg8z/';
module.exports = { awsSecretAccessKey, baseUrl: 'https://s3.amazonaws.com' };
