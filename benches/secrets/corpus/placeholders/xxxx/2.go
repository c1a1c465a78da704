package config

const (
	MailgunApiKey = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	BaseURL = "https://api.github.com"
)
