String password = System.getenv("DB_PASSWORD");
