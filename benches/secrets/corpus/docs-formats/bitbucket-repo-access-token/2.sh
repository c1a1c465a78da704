#!/bin/sh
curl -sS -X GET \
  -H "Authorization: Bearer ATCTT3xFfGN0DCCt7wlptpFYTcdnQdnKItWbF54g5j7-Ksb2tYdxkNlyqGWcOqchNdaSqzMPxWBe0-NHJvKGATP6NBRnnzDEV_MzCVmgQEKO59nXNaqB9Kzskf3DYLTSMJK6XRi-QWXCzjpiOj8bqt4tvQadqyYVuKysK751n8VStSZa085TWh=87AC28FF" \
  -H "Accept: application/json" \
  "https://api.bitbucket.org/v1/status"
