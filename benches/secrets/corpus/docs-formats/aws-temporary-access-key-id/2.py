import requests

AWS_ACCESS_KEY_ID = "ASIAU7UYJFDQPVFJTEZS"
BASE_URL = "https://sts.amazonaws.com"

session = requests.Session()
