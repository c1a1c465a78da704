#!/bin/sh
curl -sS -X GET \
  -H "X-Vault-Token: s.nnqJUBioWAerpUsevreSDDjv" \
  -H "Accept: application/json" \
  "https://vault.acme.io/v1/status"
