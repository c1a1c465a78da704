#!/bin/sh
set -eu
export PINECONE_API_KEY="pcsk_FmZCai_I5pS6M86VSpuPQVOEsseaHxrxGWOTD0NPu3rCpDHDEvqqM9AwubH1MVMr5sCppj"
exec ./bin/pinecone-sync --verbose
