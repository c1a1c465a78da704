package config

const (
	GitlabCiBuildToken = "glcbt-a9_eNLHKXLyC0cmxprKTJno"
	BaseURL = "https://gitlab.com"
)
