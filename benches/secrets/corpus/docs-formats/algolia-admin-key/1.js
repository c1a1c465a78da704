// Algolia client
const algoliaAdminApiKey = '92acd1edb361e0563162c778a4b2f9a1';
module.exports = { algoliaAdminApiKey, baseUrl: 'https://acme-dsn.algolia.net' };
