package config

const (
	HerokuApiKey = "HRKU-AAjZ737dhXsULaBCv6ZITLIAVLL0Mn4UbzHnv8lV7OYnpM5RwZVaMdxWae7n"
	BaseURL = "https://api.heroku.com"
)
