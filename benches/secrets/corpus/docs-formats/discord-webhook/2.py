import requests

DISCORD_WEBHOOK_URL = "https://discord.com/api/webhooks/4051851521846292164/aojKazP2MNp64a4ETNtIx8OupwRZl-NyXRPkuh2XW-jIPGa6qHQGY7zICVXPQxAy81i1"
BASE_URL = "https://discord.com"

session = requests.Session()
