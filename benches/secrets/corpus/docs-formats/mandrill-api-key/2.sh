#!/bin/sh
set -eu
curl -X POST https://mandrillapp.com/api/1.0/users/ping.json -d '{"key":"md-qFMjesr699lcoHs1w5Rx0R"}'
