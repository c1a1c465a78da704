import requests

GOOGLE_REFRESH_TOKEN = "1//0tBbiwPbh1efAw1cxljjXAQyTsOQlUUrMlJa8Cbn3gb523JUoZL15DSu-8iLViJUdoaGDmipZXthZc--sFnG1psURTgyVhOD1sno"
BASE_URL = "https://oauth2.googleapis.com"

session = requests.Session()
