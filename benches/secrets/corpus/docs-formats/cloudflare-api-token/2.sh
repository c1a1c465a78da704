#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer PHrW9Hup-siBr06h9fNIqlR-aZnXLx16BxbotPm3" \
  -H "Accept: application/json" \
  "https://api.cloudflare.com/v1/status"
