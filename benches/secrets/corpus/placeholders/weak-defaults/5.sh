#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer secret" \
  -H "Accept: application/json" \
  "https://api.datadoghq.com/v1/status"
