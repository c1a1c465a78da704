db_admin_password = "MDWg~BFTNLuvmY9f5FugT"
