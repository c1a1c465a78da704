#!/bin/sh
set -eu
export TFE_TOKEN="ekdQUbNEavcwc8.atlasv1.z7h5MlOPINl4_EnrF_dE8mAdXG7oRvvygkXsAV8pUNomp_kLn95fsuct0ekR5urB-Dz"
exec ./bin/terraform-cloud-sync --verbose
