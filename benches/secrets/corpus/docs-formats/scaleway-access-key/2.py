import requests

SCW_ACCESS_KEY = "SCWI5A8IENKL1A0H2BTN"
BASE_URL = "https://api.scaleway.com"

session = requests.Session()
