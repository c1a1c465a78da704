#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer <YOUR_API_KEY>" \
  -H "Accept: application/json" \
  "https://api.github.com/v1/status"
