#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer access_token$production$zi40mn60x6i2fxyf$f8aba9bca45d59ff6e2e8294e48f77ab" \
  -H "Accept: application/json" \
  "https://payments.braintree-api.com/v1/status"
