#!/bin/sh
set -eu
export LINEAR_API_KEY="lin_api_Drw0oDyqAMVsv1c0i9Px0Z4sFMt9VkZE46Ctq0v7"
exec ./bin/linear-sync --verbose
