package config

const (
	NugetApiKey = "oy23gurnlxoi4t2jjavw45u8b2xfw4jr5m9mzz5jhe9u1h"
	BaseURL = "https://www.nuget.org"
)
