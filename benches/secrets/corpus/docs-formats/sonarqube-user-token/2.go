package config

const (
	SonarToken = "squ_f38ad8385eb8521a69e6dd5aa638fb38b7b5d3a8"
	BaseURL = "https://sonarcloud.io"
)
