conn = pyodbc.connect("DRIVER={ODBC Driver 18 for SQL Server};SERVER=10.1.2.3;DATABASE=ledger;UID=backend;PWD=vyq2^aiLO1n-E8mMwT-vrox2;TrustServerCertificate=yes")
