#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer rdme_cbf1f294a755803cadc5b1d0f26db75b8ccf352ff1c34172a16a6c23f161dfd7aa384f" \
  -H "Accept: application/json" \
  "https://dash.readme.com/v1/status"
