// Harness client
const harnessApiKey = 'pat.JPEGt1h0nL-r4tClY0GEXj.e41931461e8868574856445e.F0q6WAQjolKD7CoQxBM8';
module.exports = { harnessApiKey, baseUrl: 'https://app.harness.io' };
