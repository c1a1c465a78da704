package config

const (
	ApimSubscriptionKey = "cb35166234c4041eb410ca4fa23b6e67"
	BaseURL = "https://contoso.azure-api.net"
)
