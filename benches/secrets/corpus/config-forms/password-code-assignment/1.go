package db

var dbPassword = "aAFhImfE2*UJQZ!sgE"
