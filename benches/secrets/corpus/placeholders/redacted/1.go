package config

const (
	SlackBotToken = "REDACTED"
	BaseURL = "https://api.stripe.com"
)
