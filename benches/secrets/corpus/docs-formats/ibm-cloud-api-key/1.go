package config

const (
	IbmcloudApiKey = "ywqY0npEUElNouzYXPDYJ59XeM27sCo2n9C7-GQSUvt0"
	BaseURL = "https://iam.cloud.ibm.com"
)
