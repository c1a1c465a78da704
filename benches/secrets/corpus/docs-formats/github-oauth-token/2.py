import requests

GH_OAUTH_TOKEN = "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"
BASE_URL = "https://api.github.com"

session = requests.Session()
