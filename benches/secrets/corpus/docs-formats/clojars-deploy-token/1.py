import requests

CLOJARS_DEPLOY_TOKEN = "CLOJARS_00678c1ebd954524d5070ddd836b03660d8d527c69e84f3fc16a7e5fa630"
BASE_URL = "https://repo.clojars.org"

session = requests.Session()
