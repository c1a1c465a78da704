module.exports = {
  password: process.env.DB_PASSWORD,
  apiKey: process.env['SENDGRID_API_KEY'],
};
