#!/bin/sh
set -eu
export TRELLO_TOKEN="ATTA02b5432d317e26236b0db136e2c34dde591489152685b1500a8b8bd6fb709d1a43917261"
exec ./bin/trello-sync --verbose
