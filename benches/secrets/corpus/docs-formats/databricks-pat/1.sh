#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer dapi272a402a73a185a7fe47f05bb3af160e" \
  -H "Accept: application/json" \
  "https://adb-1234.azuredatabricks.net/v1/status"
