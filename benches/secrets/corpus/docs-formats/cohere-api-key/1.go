package config

const (
	CohereApiKey = "qkn317ai16jpsPOhVE9Gw9i8hKDLc4ezAnscNISN"
	BaseURL = "https://api.cohere.com"
)
