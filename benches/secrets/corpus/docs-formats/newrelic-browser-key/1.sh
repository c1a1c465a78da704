#!/bin/sh
set -eu
curl -X POST "https://bam.nr-data.net/1/NRJS-3662546aa9fd170998f?a=1103&v=1.250.0"
