#!/bin/sh
set -eu
export FCM_SERVER_KEY="AAAADT5_qag:APA91bcb7GTXkmmdymV2_Y-1f1z7FcSHS9XhtDnfiKCd0GW3wYscwt7kva7eBf9YIIyOlVJDNygATIM2fYiU8lEDPGs9eZMtDCKeWIePxMC6NoFDMWKk57zvRv3Co5A0R-_NHR2C1QFt"
exec ./bin/firebase-cloud-messaging-sync --verbose
