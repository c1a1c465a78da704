package config

const (
	JenkinsApiToken = "11f81f03625b00cf82442dd8ffd69880a9"
	BaseURL = "https://jenkins.internal.acme.io"
)
