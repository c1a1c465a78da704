import requests

SRC_ACCESS_TOKEN = "sgp_1156ca8201e771a4_d8589f207817bdb486ab290aae6c5a1fe5ebfe3a"
BASE_URL = "https://sourcegraph.com"

session = requests.Session()
