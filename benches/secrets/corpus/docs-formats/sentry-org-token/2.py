import requests

SENTRY_ORG_AUTH_TOKEN = "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"
BASE_URL = "https://sentry.io"

session = requests.Session()
