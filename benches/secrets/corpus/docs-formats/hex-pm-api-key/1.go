package config

const (
	HexApiKey = "00070fb8874a0423e5087fff3d465554"
	BaseURL = "https://hex.pm"
)
