#!/bin/sh
set -eu
export SLACK_CONFIG_TOKEN="xoxe.xoxp-1-wknkuM7FXJACHXlOA1Ijkd6Mr9SvmGtLOwhuKovvsETEiXKAJRoLZT0dKA2nyJPnkTDxpHuuRVLBlaYki2PJvXVv08QP7zbbEzdXDTdxcCC4lxrLDH2hkJa9EtkD19Ik7fsiqhvmFiPp94cqYFaa"
exec ./bin/slack-sync --verbose
