import requests

DD_APP_KEY = "71ccb57daf9bafd846820219e33b847bd064d55c"
BASE_URL = "https://api.datadoghq.com"

session = requests.Session()
