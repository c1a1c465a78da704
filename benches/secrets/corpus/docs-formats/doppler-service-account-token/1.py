import requests

DOPPLER_SA_TOKEN = "dp.sa.n5WSl8o8QepDCUO6nHMD69ORS5tDbL7p5clplMFXxIQ"
BASE_URL = "https://api.doppler.com"

session = requests.Session()
