#!/usr/bin/env bash
# collect.sh SRC DEST: copies directory SRC to DEST, cutting files over 15 MiB into DEST/name.part-aa,
# -ab, … (transfers back from the GPU machine take at most 16 MiB a file), with SHA256SUMS of the
# whole files. `collect.sh --join DEST DIR` (DEST as collected) puts them together again and checks the sums.
set -euo pipefail
if [ "${1:-}" = "--join" ]; then
  mkdir -p "$3"; from=$(cd "$2" && pwd); to=$(cd "$3" && pwd)
  (cd "$from" && find . -type f ! -name '*.part-*' ! -name SHA256SUMS) | while read -r f; do mkdir -p "$to/$(dirname "$f")"; cp "$from/$f" "$to/$f"; done
  (cd "$from" && find . -name '*.part-aa') | while read -r f; do cat "$from/${f%.part-aa}".part-* > "$to/${f%.part-aa}"; done
  (cd "$to" && sha256sum -c --quiet "$from/SHA256SUMS")
  echo "collect.sh: $to matches SHA256SUMS"
  exit 0
fi
src=$1; dest=$2; mkdir -p "$dest"
(cd "$src" && find . -type f | sort | xargs sha256sum) > "$dest/SHA256SUMS"
(cd "$src" && find . -type f) | while read -r f; do
  mkdir -p "$dest/$(dirname "$f")"
  if [ "$(stat -c %s "$src/$f")" -gt $((15 * 1024 * 1024)) ]; then split -b 15M "$src/$f" "$dest/$f.part-"; else cp "$src/$f" "$dest/$f"; fi
done
du -sh "$dest"
