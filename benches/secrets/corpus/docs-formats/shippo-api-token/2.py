import requests

SHIPPO_API_TOKEN = "shippo_live_2612da80d1aa1aa666bd4483b75222e1e3dcd25d"
BASE_URL = "https://api.goshippo.com"

session = requests.Session()
