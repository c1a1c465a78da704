import requests

HARNESS_API_KEY = "pat.2DZJQzSX7m2LKImhVmUT2u.340019e9ff26534349298b97.P0T3hZrw5vxTX0NAtIak"
BASE_URL = "https://app.harness.io"

session = requests.Session()
