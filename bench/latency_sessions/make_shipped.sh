#!/usr/bin/env bash
# The shipped profiles of this machine class (latency_tables/<device>__<space>.json) are the median of
# sessions measured at different times (this VM's speed moves by several percent within an hour; see
# docs/reference.md, "Shipped tables"). The sessions live beside this script, one folder each.
#   bench/latency_sessions/make_shipped.sh session   # measure one session now, into bench/latency_sessions/<UTC time>/ (10-22 min)
#   bench/latency_sessions/make_shipped.sh merge     # merge every session into the shipped files in latency_tables/
# DEVICE names the table (default x86-64-2core); another CPU gets its own name, e.g.
#   DEVICE=x86-64-2core-zen1 bench/latency_sessions/make_shipped.sh session
# and `default_profile` picks the shipped table whose CPU (family and model) is this host's.
# Measure on a quiet machine: anything else running shows up in the timings.
set -euo pipefail
cd "$(dirname "$0")/../.."
sessions=bench/latency_sessions
spaces=${SPACES:-nasbench201 mobilenetv3 shufflenetv2 metaformer}
device=${DEVICE:-x86-64-2core}
case "${1:-}" in
  session)
    dir="$sessions/$(date -u +%Y%m%dT%H%MZ)"
    mkdir -p "$dir"
    for space in $spaces; do
      .venv/bin/nas profile --space "$space" --device-name "$device" --runtime torch --threads 1 \
        --out "$dir/${device}__${space}.json"
    done ;;
  merge)
    for space in $spaces; do
      .venv/bin/nas merge-profiles "$sessions"/*/"${device}__${space}.json" \
        --out "latency_tables/${device}__${space}.json"
    done ;;
  *)
    echo "usage: $0 session|merge" >&2
    exit 2 ;;
esac
