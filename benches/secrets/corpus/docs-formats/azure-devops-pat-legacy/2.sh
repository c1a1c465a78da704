#!/bin/sh
set -eu
git clone https://pat:uizfwtxdhl2aaiizhufxg6467iowstq4zbty5bqridonv3wiv73r@dev.azure.com/acme/platform/_git/infra
