package config

const (
	MailgunKey = "key-5ea0e4a2581917fdde0117c5cf0e735f"
	BaseURL = "https://api.mailgun.net"
)
