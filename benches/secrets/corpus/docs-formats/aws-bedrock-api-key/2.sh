#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer ABSKQmVkcm9ja0FQSUtleS12c29mLWF0LTIyNjE5NDgzNzgzNjozVklXd2tRbnVUeWcvWm9nTHhpSkx2TTBaNUNGdjdOcWVnWGdESGRY" \
  -H "Accept: application/json" \
  "https://bedrock-runtime.us-east-1.amazonaws.com/v1/status"
