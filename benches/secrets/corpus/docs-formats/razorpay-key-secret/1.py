import requests

RAZORPAY_KEY_SECRET = "FBSEPJdfh4y06cVV618SXlxp"
BASE_URL = "https://api.razorpay.com"

session = requests.Session()
