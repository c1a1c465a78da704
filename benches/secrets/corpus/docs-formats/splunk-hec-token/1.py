import requests

SPLUNK_HEC_TOKEN = "9150ccf5-aba5-480c-9639-c5f144be8630"
BASE_URL = "https://splunk.acme.io"

session = requests.Session()
