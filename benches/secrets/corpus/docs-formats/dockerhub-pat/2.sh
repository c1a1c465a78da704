#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer dckr_pat_2Ya-tdbAnYjFsCjyj6-Ovzd8qrt" \
  -H "Accept: application/json" \
  "https://hub.docker.com/v1/status"
