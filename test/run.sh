#!/usr/bin/env bash
# Runs every test file with node's test runner (files listed explicitly: Node 20 does not expand
# quoted globs). One file at a time: the e2e files start real servers on this 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
files=(test/unit/**/*.test.ts test/e2e/**/*.test.ts)
if [ "$#" -gt 0 ]; then files=("$@"); fi
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
