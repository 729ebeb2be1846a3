#!/usr/bin/env bash
# Runs every test of one file alone, in a random order, each in a fresh process:
#   bash test/each-alone.sh test/e2e/adapt.test.ts
# (Node 20's test runner has no --test-shuffle: this is how we check that no test needs another's state.)
# The names come from a first run of the whole file; a test that fails alone is reported by name.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$1"
# Every leaf test at any depth (top-level tests included; suites, whose TAP block says type: 'suite', are
# not). Node 20 matches --test-name-pattern against a test's own name only, not its suites': a name that
# several suites share runs in each of them, still without any other test.
# (A file with a failing test still lists its tests: its exit status is not the listing's.)
whole=/tmp/each-alone.whole.$$
node --import tsx --test --test-reporter=tap "$file" > "$whole" 2>/dev/null || true
whole_result=$(grep -E '^# (pass|fail) ' "$whole" | tr '\n' ' ')
whole_failed=$(sed -n 's/^# fail //p' "$whole")
echo "whole file, in order: $whole_result"
grep -E '^ *not ok [0-9]+ - ' "$whole" | sed 's/^ */  whole file: /' || true
# A test the whole run skipped (a missing tool) is listed as skipped, not run alone.
listed=$(awk '
  function flush() { if (name != "" && !suite) print (skip ? "skip" : "run") "\t" name; name = ""; suite = 0; skip = 0 }
  /^ *(not )?ok [0-9]+ - / { flush(); name = $0; sub(/^ *(not )?ok [0-9]+ - /, "", name); skip = name ~ / # SKIP/
    sub(/ # (SKIP|TODO).*$/, "", name); gsub(/\\#/, "#", name); gsub(/\\\\/, "\\", name); next }
  /^ *type: .suite.$/ { suite = 1 }
  END { flush() }' "$whole" | sort -u)
skipped=$(sed -n 's/^skip\t//p' <<< "$listed" | sort -u)
names=$(sed -n 's/^run\t//p' <<< "$listed" | sort -u | grep -vxF -f <(printf '%s\n' "$skipped") | shuf || true)
[ -n "$skipped" ] && sed 's/^/skipped in the whole run, not run alone: /' <<< "$skipped"
failed=0
passed=0
while IFS= read -r name; do
  [ -z "$name" ] && continue
  pattern="^$(printf '%s' "$name" | sed 's/[][\\.^$*+?(){}|/]/\\&/g')\$"
  if node --import tsx --test --test-reporter=tap --test-name-pattern "$pattern" "$file" > /tmp/each-alone.$$ 2>&1 && grep -q '^# pass [1-9]' /tmp/each-alone.$$; then
    echo "ok alone: $name"; passed=$((passed + 1))
  else
    echo "FAILED alone: $name"; failed=$((failed + 1)); tail -30 /tmp/each-alone.$$
  fi
done <<< "$names"
rm -f /tmp/each-alone.$$ "$whole"
echo "each-alone $file: $passed ok, $failed failed$([ -n "$skipped" ] && echo ", $(wc -l <<< "$skipped") skipped") (whole file: $whole_result)"
[ "$failed" -eq 0 ] && [ "${whole_failed:-1}" = 0 ]
