package config

const (
	SquareAccessToken = "EAAAs0YSryNlwAkzWfhSn4Okb9AVQFyRlUU8zgIKOTO3r0DUgiYLw6iEmrdYsApS"
	BaseURL = "https://connect.squareup.com"
)
