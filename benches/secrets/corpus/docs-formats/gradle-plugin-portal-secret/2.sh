#!/bin/sh
set -eu
export GRADLE_PUBLISH_SECRET="DejVDdA1pMghLfLKfnOXcbbGCqDRQh0u"
exec ./bin/gradle-plugin-portal-sync --verbose
