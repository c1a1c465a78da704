import requests

POSTMAN_API_KEY = "PMAK-9fe4e3e8c1b2faa473fa2580-d66afebd01d80bc1b8c541486275b49a4c"
BASE_URL = "https://api.getpostman.com"

session = requests.Session()
