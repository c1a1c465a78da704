import requests

ASSEMBLYAI_API_KEY = "80294b2776c1b77823bd9c625db0b6a6"
BASE_URL = "https://api.assemblyai.com"

session = requests.Session()
