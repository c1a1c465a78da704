package config

const (
	FigmaToken = "figd_nrKtVEARmBzRCbgSETZ90iUWbsWGDIoIjKcHWRjH"
	BaseURL = "https://api.figma.com"
)
