package config

const (
	StytchSecret = "secret-live-Xarq4_aCODVTF0nQ-G1NYZORtuKxdf4t2eHQ"
	BaseURL = "https://api.stytch.com"
)
