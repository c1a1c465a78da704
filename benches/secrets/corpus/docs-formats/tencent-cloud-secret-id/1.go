package config

const (
	TencentcloudSecretId = "AKIDE1i4J9M81TcINEvzd11bU6cln1R5jBi7"
	BaseURL = "https://cvm.tencentcloudapi.com"
)
