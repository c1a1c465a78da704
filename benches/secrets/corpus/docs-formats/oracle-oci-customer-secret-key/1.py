import requests

OCI_CUSTOMER_SECRET_KEY = "J3FyeD7WAUFvz6iZTTQe7is6heXhM99PjRKyFQQPOFN="
BASE_URL = "https://objectstorage.us-ashburn-1.oraclecloud.com"

session = requests.Session()
