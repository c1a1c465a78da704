import requests

FASTLY_API_TOKEN = "SPKGms_7OZtd5KJSBCQxrow5rDe4JkwW"
BASE_URL = "https://api.fastly.com"

session = requests.Session()
