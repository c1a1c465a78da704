import requests

STRIPE_WEBHOOK_SECRET = "whsec_mOrR6DdHnGfSbPnWTzFWcJ0hgOocqUwM"
BASE_URL = "https://api.stripe.com"

session = requests.Session()
