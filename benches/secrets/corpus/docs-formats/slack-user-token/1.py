import requests

SLACK_USER_TOKEN = "xoxp-1547430217816-8284029387343-6483363916092-3e42bc856854c734b71f4d22cad3ce66"
BASE_URL = "https://slack.com"

session = requests.Session()
