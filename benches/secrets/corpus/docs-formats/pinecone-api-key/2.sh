#!/bin/sh
curl -sS -X GET \
  -H "Api-Key: pcsk_ux8ZfM_Ng3J95Ogo1eHl4GNLGBe4YbNrgjYD6q5DO6CNv0MrigopmBRzSJszTywEPBnDi1" \
  -H "Accept: application/json" \
  "https://api.pinecone.io/v1/status"
