SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://svc_app:-_zZo9OHWxlySBC78Pj@db.prod.acme.internal:5432/orders?sslmode=require"
