package config

const (
	LaunchdarklySdkKey = "sdk-1e1cd1bd-046e-40cc-9f47-fca3da6052ae"
	BaseURL = "https://sdk.launchdarkly.com"
)
