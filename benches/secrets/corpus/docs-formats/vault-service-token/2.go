package config

const (
	VaultToken = "hvs.L7fsQq4oAPu2UmdyQkTDO8b__LyL5j5jn0UPEqxp8QQ1p0zTy1aI"
	BaseURL = "https://vault.acme.io"
)
