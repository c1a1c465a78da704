import requests

TWITTER_BEARER_TOKEN = "AAAAAAAAAAAAAAAAAAAAADkmQgYHDvxEGCG3GUqY%3DkdcuKQhHymHOIIjHctnRaRz0guaJ2oOHPDg48eM3QHrgnSFQYA"
BASE_URL = "https://api.twitter.com"

session = requests.Session()
