#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer phx_6P9jmiGYwWY2wtBi71GEMbdvABUd4kdQiU76Vgv7Ps4" \
  -H "Accept: application/json" \
  "https://us.posthog.com/v1/status"
