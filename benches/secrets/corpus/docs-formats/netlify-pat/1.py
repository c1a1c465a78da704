import requests

NETLIFY_AUTH_TOKEN = "nfp_X4sjmGrV2m5y2vrq2CackD8hk0tOSAd8vVV7"
BASE_URL = "https://api.netlify.com"

session = requests.Session()
