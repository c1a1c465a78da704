package config

const (
	OpsgenieApiKey = "b49f6efe-bfa9-449f-824e-a0657eb48694"
	BaseURL = "https://api.opsgenie.com"
)
