import os

API_KEY = os.environ["STRIPE_SECRET_KEY"]
DB_PASSWORD = os.getenv("DB_PASSWORD")
