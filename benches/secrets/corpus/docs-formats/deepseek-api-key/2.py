import requests

DEEPSEEK_API_KEY = "sk-4e909c9ba3d8a72915ffafb8c6e0f839"
BASE_URL = "https://api.deepseek.com"

session = requests.Session()
