#!/usr/bin/env bash
# Regenerates the committed local-minima study under validation/minima/ (issue 5, the
# paper's Section 5) with the release binary:
#
#   ridge-bump (2-1-1, d = 5):  η = 0.1, 0.05, 0.02, t = 200; covariance at θ* for
#                               η = 0.1 … 0.001 (validation/minima/ridge-bump.json)
#   tanh-cos   (1-1-1, d = 4):  η = 0.1, 0.03, 0.01, t = 400; covariance at θ* for
#                               η = 0.03 … 0.001 (validation/minima/tanh-cos.json)
#
# Each: 1000 seeded initial points with batch training and 4 simple-backprop members per η,
# 200 of them also with the SME; 2000 simple-backprop and 512 SME members started at the
# verified local minimum θ* for the escape times; 2000 members per η for the covariance.
# Seed 1 throughout, so the numbers are reproducible bit for bit on any machine and thread
# count (wall times differ). About 7 minutes on 2 cores.
#
# Usage: scripts/minima-study.sh
# Env:   DIFFAPPROX_BIN  binary to use [default: built with `cargo build --release`
#                        into $CARGO_TARGET_DIR or target]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${DIFFAPPROX_BIN:-}" ]]; then
    bin="$DIFFAPPROX_BIN"
else
    cargo build --release -p diffapprox-cli >&2
    bin="${CARGO_TARGET_DIR:-target}/release/diffapprox"
fi

for problem in ridge-bump tanh-cos; do
    dir="validation/minima/$problem"
    echo "== $dir: diffapprox minima --problem $problem --config validation/minima/$problem.json" >&2
    start=$SECONDS
    "$bin" minima --problem "$problem" --config "validation/minima/$problem.json" --out "$dir" \
        | tee "$dir.txt.tmp"
    mv "$dir.txt.tmp" "$dir.txt"
    echo "== $problem: $((SECONDS - start)) s" >&2
    echo >&2
done
