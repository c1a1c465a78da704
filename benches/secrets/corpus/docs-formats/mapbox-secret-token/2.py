import requests

MAPBOX_SECRET_TOKEN = "sk.eyJ1IjoiYXhqbm16c3UiLCJhIjoidGUzMzJrM2Q5dTN0MGpobmFldWhob2F6OSJ9.B5Xw5_TLClBR1v_mAq0HrO"
BASE_URL = "https://api.mapbox.com"

session = requests.Session()
