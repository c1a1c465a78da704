import requests

GITLAB_SCIM_TOKEN = "glsoat-is1Md-3iuARUVPs9saeG"
BASE_URL = "https://gitlab.com"

session = requests.Session()
