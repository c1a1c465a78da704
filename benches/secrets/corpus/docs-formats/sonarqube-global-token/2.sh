#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer sqa_fb49fbef2fb065709689b56c30e089e4e77fca8d" \
  -H "Accept: application/json" \
  "https://sonarqube.acme.io/v1/status"
