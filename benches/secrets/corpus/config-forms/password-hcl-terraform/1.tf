resource "aws_db_instance" "main" {
  engine   = "postgres"
  username = "app"
  password = "gs!A3AQkp@rdR^"
}
