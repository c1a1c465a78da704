package config

const (
	AlgoliaAdminApiKey = "03b410b1f50340d8509f73ce24745e77"
	BaseURL = "https://acme-dsn.algolia.net"
)
