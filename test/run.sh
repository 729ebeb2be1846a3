#!/usr/bin/env bash
# Runs test files with node's test runner (files listed explicitly: Node 20 does not expand quoted
# globs). No arguments: every suite; a folder stands for every test file below it. One file at a time:
# the e2e files start real servers on this 2-core machine. Arguments starting with -- go to node's
# test runner: `bash test/run.sh test/e2e/adapt.test.ts --test-name-pattern 'IF_BETTER'` runs one test.
#   unit/  unit tests;  e2e/  a real server on loopback;  repo/  checks of the repository's
#   other parts (k8s manifests, k6 scripts, the image, the model generator, the pretraining scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
if [ "$#" -eq 0 ]; then set -- test/unit test/e2e test/repo; fi
files=()
options=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --*=*) options+=("$1") ;;
    --test-name-pattern|--test-skip-pattern|--test-timeout|--test-reporter|--test-reporter-destination|--test-shard) options+=("$1" "$2"); shift ;;
    --*) options+=("$1") ;;
    *) if [ -d "$1" ]; then files+=("${1%/}"/**/*.test.ts); else files+=("$1"); fi ;;
  esac
  shift
done
if [ "${#files[@]}" -eq 0 ]; then echo "test/run.sh: no test files in the arguments" >&2; exit 2; fi
exec node --import tsx --test --test-concurrency=1 "${options[@]}" "${files[@]}"
