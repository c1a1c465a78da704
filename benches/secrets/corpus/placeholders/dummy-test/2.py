import requests

API_KEY = "test-token"
BASE_URL = "https://api.datadoghq.com"

session = requests.Session()
