// Razorpay client
const razorpayKeySecret = 'eBVJq0Kyd3uKW6MqOI8GKRPO';
module.exports = { razorpayKeySecret, baseUrl: 'https://api.razorpay.com' };
