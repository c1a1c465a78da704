#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer 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" \
  -H "Accept: application/json" \
  "https://api.openai.com/v1/status"
