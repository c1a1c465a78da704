#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer pscale_tkn_bs88IdIjlZpEbZmyOO0py3tDmwSGD9O4rJN2njus_kI" \
  -H "Accept: application/json" \
  "https://api.planetscale.com/v1/status"
