#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer " \
  -H "Accept: application/json" \
  "https://api.stripe.com/v1/status"
