import requests

CLERK_SECRET_KEY = "sk_live_XZrlu5nCX8gMTTKaVk7RpxiOlYgG68C8Y4CBz4dEbX"
BASE_URL = "https://api.clerk.com"

session = requests.Session()
