package config

const (
	FlwSecretKey = "FLWSECK-3d4981f2412b7a5603b86ee7d4470607-X"
	BaseURL = "https://api.flutterwave.com"
)
