package config

const (
	SlackBotToken = "${SECRET_KEY:-}"
	BaseURL = "https://api.mailgun.net"
)
