package config

const (
	ScwSecretKey = "0f5a6b34-9052-4dde-a023-ae35c4829e1d"
	BaseURL = "https://api.scaleway.com"
)
