DEBUG = False
SECRET_KEY = 'django-insecure-gcps^y&zysu!zl=4n5#ueg!!lm!1c9&eenrfmja0@d_z%ycr_y'
ALLOWED_HOSTS = ['acme.io']
