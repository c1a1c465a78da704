#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer lin_oauth_aeee6376ad94f9389c3f652d8226d84930d53adf44791e30f258a88e1426e564" \
  -H "Accept: application/json" \
  "https://api.linear.app/v1/status"
