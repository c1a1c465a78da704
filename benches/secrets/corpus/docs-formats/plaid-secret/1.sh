#!/bin/sh
curl -sS -X GET \
  -H "PLAID-SECRET: fbc884e2f867b9a8e293b879520558" \
  -H "Accept: application/json" \
  "https://production.plaid.com/v1/status"
