import requests

MAILGUN_API_KEY = "AIza..."
BASE_URL = "https://api.datadoghq.com"

session = requests.Session()
