#!/bin/sh
set -eu
export SERVICEBUS_CONNECTION_STRING="Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=JyROJekKw7Er2VDl3FMtCtu9IAFB5ITYXjD8zuXZYv8="
