package db

var dbPassword = "gEdmyg_yv-RQbwekC3N"
