import requests

AUTH0_CLIENT_SECRET = "ks7QXVi1QX8P5qJ0dufadFaUUuayGAJcov2nExYlzrFqIQ3vi2i6KpKOEyg2GwwY"
BASE_URL = "https://acme.us.auth0.com"

session = requests.Session()
