import requests

CI_RUNNER_TOKEN = "glrt-M_nqIeN4gapJbqwzcs7e"
BASE_URL = "https://gitlab.com"

session = requests.Session()
