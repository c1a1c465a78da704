db_admin_password = "MDWgBFTNLuvmY9f5FugTp"
