package config

const (
	GhAppUserToken = "ghu_NqptqaKqJaj1OhbYxo2zmtFN4zlQE41MGXp3"
	BaseURL = "https://api.github.com"
)
