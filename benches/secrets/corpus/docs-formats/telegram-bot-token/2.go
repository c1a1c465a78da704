package config

const (
	TelegramBotToken = "7463762868:AArFGMC9ELVps_K9kfnXt2n3IjBK_E8JhNi"
	BaseURL = "https://api.telegram.org"
)
