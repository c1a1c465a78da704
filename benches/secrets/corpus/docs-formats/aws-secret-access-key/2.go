package config

const (
	AwsSecretAccessKey = "zUxG8eCKaRD0ufspWMqFtigorhpJnxHGJToMJ4N0"
	BaseURL = "https://s3.amazonaws.com"
)
