#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer CFPAT-zW8ulXQYNzwRNOpfrdVeGuCnzws7vepk1qxrODRlKyP" \
  -H "Accept: application/json" \
  "https://api.contentful.com/v1/status"
