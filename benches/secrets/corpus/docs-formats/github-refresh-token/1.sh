#!/bin/sh
set -eu
export GH_REFRESH_TOKEN="ghr_eQFNBIwRx4YRabS0X68UlGaZ0qq3XFnyQdJ4IMhJLXtisvrqsChVUUyWr2U3z8s3GggbNZEKwoeg"
exec ./bin/github-sync --verbose
