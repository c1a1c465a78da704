#!/bin/sh
set -eu
export ZENDESK_API_TOKEN="Oz0F0U16QvQ7EvDqD2A557nc70QMwrejnmYIUMzH"
exec ./bin/zendesk-sync --verbose
