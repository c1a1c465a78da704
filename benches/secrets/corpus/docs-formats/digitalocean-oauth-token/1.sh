#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer doo_v1_4f40f0236142208e809874ac05e6e61a2d7a4c17888ebbdd20927b6777c69672" \
  -H "Accept: application/json" \
  "https://api.digitalocean.com/v1/status"
