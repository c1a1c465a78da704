#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer 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" \
  -H "Accept: application/json" \
  "https://api.groq.com/v1/status"
