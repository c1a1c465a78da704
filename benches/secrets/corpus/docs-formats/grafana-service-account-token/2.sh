#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer glsa_M1ELWRLgrClOqHOXkOejbNDVF04F2vkh_9fc9b436" \
  -H "Accept: application/json" \
  "https://grafana.acme.io/v1/status"
