package config

const (
	PagerdutyApiKey = "u+_74NKXm7K1bLQXmCGw"
	BaseURL = "https://api.pagerduty.com"
)
