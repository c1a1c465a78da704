#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer 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" \
  -H "Accept: application/json" \
  "https://openrouter.ai/v1/status"
