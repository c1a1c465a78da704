#!/bin/sh
set -eu
curl -u "$TWILIO_ACCOUNT_SID:4231351e40c8a9cb6f3fa93a309b6342" https://api.twilio.com/2010-04-01/Accounts.json
