#!/bin/sh
set -eu
export BRAINTREE_ACCESS_TOKEN="access_token$production$56hx9tt9qxkaitq0$1ede78ed4b9d519fe969d3546da77c58"
exec ./bin/paypal-braintree-sync --verbose
