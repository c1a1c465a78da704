package config

const (
	RegistrationToken = "GR1348941yY5VFPJECtDKybBj1c_b"
	BaseURL = "https://gitlab.com"
)
