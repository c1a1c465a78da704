import requests

TRAVIS_API_TOKEN = "rMfhLB53A6YnEaEuFV60kC"
BASE_URL = "https://api.travis-ci.com"

session = requests.Session()
