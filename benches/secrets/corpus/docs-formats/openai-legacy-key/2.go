package config

const (
	OpenaiApiKey = "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"
	BaseURL = "https://api.openai.com"
)
