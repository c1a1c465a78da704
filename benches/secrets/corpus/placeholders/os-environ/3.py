password = os.environ.get("POSTGRES_PASSWORD", "")
