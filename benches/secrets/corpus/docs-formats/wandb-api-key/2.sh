#!/bin/sh
set -eu
export WANDB_API_KEY="685c3c6ffc178f359353521e15356ab233ccf52c"
exec ./bin/weights-biases-sync --verbose
