#!/usr/bin/env bash
# Runs every test of one file alone, in a random order, each in a fresh process:
#   bash test/each-alone.sh test/e2e/adapt.test.ts
# (Node 20's test runner has no --test-shuffle: this is how we check that no test needs another's state.)
# The names come from a first run of the whole file; a test that fails alone is reported by name.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
names=$(node --import tsx --test --test-reporter=tap "$file" 2>/dev/null | sed -n 's/^    \(not \)\{0,1\}ok [0-9]* - \(.*\)$/\2/p' | sed 's/ # SKIP.*$//' | shuf)
failed=0
while IFS= read -r name; do
  [ -z "$name" ] && continue
  pattern="^$(printf '%s' "$name" | sed 's/[][\\.^$*+?(){}|/]/\\&/g')\$"
  if node --import tsx --test --test-reporter=tap --test-name-pattern "$pattern" "$file" > /tmp/each-alone.$$ 2>&1 && grep -q '^# pass [1-9]' /tmp/each-alone.$$; then
    echo "ok alone: $name"
  else
    echo "FAILED alone: $name"; failed=1; tail -30 /tmp/each-alone.$$
  fi
done <<< "$names"
rm -f /tmp/each-alone.$$
exit "$failed"
