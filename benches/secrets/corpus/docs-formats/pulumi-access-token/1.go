package config

const (
	PulumiAccessToken = "pul-8392ade67b70683df5360d50ead1e5dbffe8b848"
	BaseURL = "https://api.pulumi.com"
)
