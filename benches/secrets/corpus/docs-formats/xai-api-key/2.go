package config

const (
	XaiApiKey = "xai-2IsEzFfzFsGpqg67sufIPo8OihjduEgKW0I3sqNxOCHiSW22ay8bveHNCAWIqwSPyeL0Tum5nRSEhOwx"
	BaseURL = "https://api.x.ai"
)
