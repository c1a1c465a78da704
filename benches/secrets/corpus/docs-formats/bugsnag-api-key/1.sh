#!/bin/sh
curl -sS -X GET \
  -H "Bugsnag-Api-Key: 5428ceb1a9918c6151964ee6e504832d" \
  -H "Accept: application/json" \
  "https://notify.bugsnag.com/v1/status"
