#!/bin/sh
set -eu
export OP_SECRET_KEY="A3-5ALUQE-QMZAGP-V2E8J-5TMTI-8KEBA-QPEFT"
exec ./bin/1password-sync --verbose
