#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer OHS3OYS3PK0Y13YGIZ80VHBXQZCGBP5WHXX45O3PS2KJS9K4PATV6EMVZXPGV8N0" \
  -H "Accept: application/json" \
  "https://quay.io/v1/status"
