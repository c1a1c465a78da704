#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer ghr_g7Uhg6TRGvJW3531YYkF8KeIyycGSATiI5nDhHEkGKN0w4H70U80rhZu5vFKb7QhSPHvMb8NiDpd" \
  -H "Accept: application/json" \
  "https://github.com/v1/status"
