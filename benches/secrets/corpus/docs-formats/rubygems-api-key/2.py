import requests

GEM_HOST_API_KEY = "rubygems_5972ff30888d300659053b9f55b00dc26a6ceebfe121594d"
BASE_URL = "https://rubygems.org"

session = requests.Session()
