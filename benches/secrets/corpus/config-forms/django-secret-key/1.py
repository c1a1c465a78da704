DEBUG = False
SECRET_KEY = 'xo+l!yi^%%7advexgukg+dpbzu@)6iw-*j26wl#h-nr1c&j-d6'
ALLOWED_HOSTS = ['acme.io']
