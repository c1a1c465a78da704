import requests

DATADOG_API_KEY = "1111111111111111111111111111111111111111"
BASE_URL = "https://api.github.com"

session = requests.Session()
