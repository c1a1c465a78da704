#!/bin/sh
set -eu
export COSMOS_DB_PRIMARY_KEY="gBCnbfCGBPdpvx1Iw4UOqorJt70VEJtANK+3brjylJbORmZSl5m8IndFULype45oHNLT/kp8PRJOCG17CKrw0A=="
exec ./bin/azure-cosmos-db-sync --verbose
