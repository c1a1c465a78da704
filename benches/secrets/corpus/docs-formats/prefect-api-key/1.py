import requests

PREFECT_API_KEY = "pnu_otgw7V49KGZ7enz6A91DTlQ6Z5mYpkRGIDQR"
BASE_URL = "https://api.prefect.cloud"

session = requests.Session()
