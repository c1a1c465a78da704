package config

const (
	EasypostApiKey = "EZAKod88hYY9m8cp1UOiN6G4MXxVFSpUIh7bF16PDdTNt9ZsSPQ9DIIzzG"
	BaseURL = "https://api.easypost.com"
)
