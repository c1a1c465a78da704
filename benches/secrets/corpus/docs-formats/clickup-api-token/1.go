package config

const (
	ClickupApiToken = "pk_275809044_OQC5JCRR5T0PHKXINQVA62HNCS2XSDDE"
	BaseURL = "https://api.clickup.com"
)
