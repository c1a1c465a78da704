import requests

HUGGINGFACE_ORG_TOKEN = "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"
BASE_URL = "https://huggingface.co"

session = requests.Session()
