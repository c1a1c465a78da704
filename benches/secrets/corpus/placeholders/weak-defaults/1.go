package config

const (
	DatadogApiKey = "changeme"
	BaseURL = "https://api.datadoghq.com"
)
