package config

const (
	SlackAppToken = "xapp-1-A2KD7X5N2I3-9309280650526-c316e6bf70bd96bf540c428f821c10e53e21c7e93567aee34e08963a026e0ca1"
	BaseURL = "https://slack.com"
)
