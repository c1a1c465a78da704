package config

const (
	NewRelicApiKey = "NRAK-584IN60VRXASNITI07ZFUKOZKEO"
	BaseURL = "https://api.newrelic.com"
)
