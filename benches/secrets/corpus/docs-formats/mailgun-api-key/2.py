import requests

MAILGUN_API_KEY = "bdf4fdf7e060495cc04a9801b0c606e2-4c6e4427-83413682"
BASE_URL = "https://api.mailgun.net"

session = requests.Session()
