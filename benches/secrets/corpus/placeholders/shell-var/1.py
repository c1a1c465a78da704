import requests

API_KEY = "${API_TOKEN}"
BASE_URL = "https://api.stripe.com"

session = requests.Session()
