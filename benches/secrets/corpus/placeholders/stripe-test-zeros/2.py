import requests

DB_PASSWORD = "sk_test_00000000000000000000000000000000"
BASE_URL = "https://api.mailgun.net"

session = requests.Session()
