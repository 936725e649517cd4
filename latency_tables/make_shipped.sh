#!/usr/bin/env bash
# Re-measure the shipped profiles of this machine class, one space after another, on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
for space in ${SPACES:-nasbench201 mobilenetv3 shufflenetv2 metaformer}; do
  .venv/bin/nas profile --space "$space" --device-name x86-64-2core --runtime torch --threads 1 \
    --out "latency_tables/x86-64-2core__${space}.json"
done
