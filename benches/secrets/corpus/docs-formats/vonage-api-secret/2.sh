#!/bin/sh
set -eu
curl -u "$VONAGE_API_KEY:z5BB5J7U48vuIHqC" https://api.nexmo.com/v2/applications
