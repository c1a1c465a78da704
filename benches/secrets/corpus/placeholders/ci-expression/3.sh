#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer {{ vault_db_password }}" \
  -H "Accept: application/json" \
  "https://api.mailgun.net/v1/status"
