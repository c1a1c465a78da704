// Oracle Cloud (OCI) client
const ociCustomerSecretKey = 'Lmy3ZpfgEmJnhbNluIHuHv83lxvvcqy0l4YryzJJKhJ=';
module.exports = { ociCustomerSecretKey, baseUrl: 'https://objectstorage.us-ashburn-1.oraclecloud.com' };
