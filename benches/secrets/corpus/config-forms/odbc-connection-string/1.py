conn = pyodbc.connect("DRIVER={ODBC Driver 18 for SQL Server};SERVER=10.1.2.3;DATABASE=ledger;UID=etl_user;PWD=PnVPs2QxuFltzHl;TrustServerCertificate=yes")
