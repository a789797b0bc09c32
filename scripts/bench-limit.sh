#!/usr/bin/env bash
# Benchmark of `diffapprox limit` with the covariance on a mid-sized problem:
# teacher 8-16-4 (d = 212), T = 64, horizon 4, RK4 step 0.01 (400 steps, 1600 evaluations
# of A, h, R and AΣ). Prints the wall time and the split measured inside the binary.
#
# Usage: scripts/bench-limit.sh [extra limit flags...]
# Env:   DIFFAPPROX_BIN  binary to time [default: $CARGO_TARGET_DIR or target, /release/diffapprox;
#                        built with `cargo build --release -p diffapprox-cli` if missing]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${DIFFAPPROX_BIN:-${CARGO_TARGET_DIR:-target}/release/diffapprox}"
if [[ ! -x "$bin" ]]; then
    echo "building $bin" >&2
    cargo build --release -p diffapprox-cli >&2
fi

out="$(mktemp -d)/limit-teacher.json"
trap 'rm -rf "$(dirname "$out")"' EXIT
args=(limit --problem teacher:h=8,q=16,m=4,T=64 --t-end 4 --step 0.01 --timing --out "$out" "$@")

echo "command: $bin ${args[*]}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f 'time: wall %e s, user %U s, sys %S s, max RSS %M KiB' "$bin" "${args[@]}"
else
    TIMEFORMAT='time: wall %R s, user %U s, sys %S s'
    time "$bin" "${args[@]}"
fi
echo "output: $(du -h "$out" | cut -f1) of JSON"
