package config

const (
	AzureStorageAccountKey = "n3LgEe6bHTqi/N2QszK8hSDsHLwtNi9+vY0aaswSa4kvoFy5RkrDDEAM36Y4ajEvJ9VUODrp6wHSL0b6M++MCg=="
	BaseURL = "https://acct.blob.core.windows.net"
)
