import requests

OPENAI_API_KEY = "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"
BASE_URL = "https://api.openai.com"

session = requests.Session()
