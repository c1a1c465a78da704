import requests

AZURE_OPENAI_API_KEY = "47ea7437cfdfe052a3fa93acf1fd3de8"
BASE_URL = "https://myres.openai.azure.com"

session = requests.Session()
