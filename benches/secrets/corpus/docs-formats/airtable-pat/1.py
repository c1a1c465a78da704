import requests

AIRTABLE_TOKEN = "pat5UsFUS8vWj3rBq.6897a16554f9ca6da3a5acb2de5a2edc9f96fe0c58374e7a541af760db51dada"
BASE_URL = "https://api.airtable.com"

session = requests.Session()
