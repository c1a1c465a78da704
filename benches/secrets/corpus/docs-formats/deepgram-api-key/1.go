package config

const (
	DeepgramApiKey = "86c4a4f5e12529de4c3f8349663e926b134d3e7d"
	BaseURL = "https://api.deepgram.com"
)
