package config

const (
	SlackBotToken = "sample_secret"
	BaseURL = "https://api.github.com"
)
