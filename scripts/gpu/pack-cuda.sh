#!/usr/bin/env bash
# Prepares the transfers for gpu:check on a GPU machine that reaches no registry (see README.md beside
# this file and ../shared/gpu/README.md): runs the shared pack.sh, which packs node, every git-ignored
# path and ONNX Runtime's CUDA provider into .gpu/call1 … .gpu/callN.
# Meanwhile it moves aside what the check does not need, so that call1 stays under its 60 MiB: large
# ignored outputs (the pretraining corpus, benchmark models, which gpu:check regenerates there, head
# stores) and the development-only packages in node_modules (typescript, eslint, buf, transformers.js…).
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
# shared/ sits beside the checkout, or two folders up from a helper's worktree.
pack=${BERTD_GPU_PACK:-}
for candidate in "$root/../shared/gpu/pack.sh" "$root/../../shared/gpu/pack.sh"; do
  if [ -z "$pack" ] && [ -f "$candidate" ]; then pack=$(cd "$(dirname "$candidate")" && pwd)/pack.sh; fi
done
pack=${pack:-$root/../shared/gpu/pack.sh}
[ -f "$pack" ] || { echo "pack-cuda.sh: the shared pack.sh is not at $pack (set BERTD_GPU_PACK)" >&2; exit 1; }
aside=$(mktemp -d "$root/../.bertd-gpu-aside.XXXXXX")
moves="$aside/moves.tsv"; : > "$moves"
copy=$(mktemp -d)
restore() {
  tac "$moves" | while IFS=$'\t' read -r from to; do mv "$to" "$root/$from"; done
  rm -rf "$aside" "$copy"
}
trap restore EXIT
move_aside() {
  local slot; slot="$aside/$(wc -l < "$moves")"
  mv "$root/$1" "$slot" && printf '%s\t%s\n' "$1" "$slot" >> "$moves"
}
# Model files xz cannot shrink stay here: the seeded random-tiny (17 MB), which `generate.ts --quiet`
# regenerates there in a second, and the default model's ONNX files (45 + 35 MB): gpu:check serves the
# models it generates, and `generate.ts --from-weights models/default` rebuilds them from the weights.
for p in pretraining/data pretraining/out models/pretrained bench/out data .gpu-pretrain models/random-tiny models/default/model.onnx models/default/model_quantized.onnx; do
  if [ -e "$p" ] && git check-ignore -q "$p"; then move_aside "$p"; fi
done
# better-sqlite3 compiled here when no prebuilt binary could be fetched: its sources and objects.
for p in node_modules/better-sqlite3/deps node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target node_modules/better-sqlite3/build/Release/sqlite3.a; do
  if [ -e "$p" ]; then move_aside "$p"; fi
done
# Top-level packages that no production dependency needs.
npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$root/node_modules/||p" | grep -v /node_modules/ | sort -u > "$aside/production.txt"
for dir in node_modules/[!@.]* node_modules/@*/*; do
  [ -d "$dir" ] || continue
  grep -qxF "${dir#node_modules/}" "$aside/production.txt" || move_aside "$dir"
done
# pack.sh writes .git/info/exclude, but in a git worktree .git is a file: run a copy (beside copies of
# its stage.sh and run.sh) that asks git where the exclude file is.
cp "$(dirname "$pack")"/pack.sh "$(dirname "$pack")"/stage.sh "$(dirname "$pack")"/run.sh "$copy"/
sed -i 's|\.git/info/exclude|"$(git rev-parse --git-path info/exclude)"|g' "$copy/pack.sh"
# Every call also carries the working tree (the tracked files, 16 MB here), and a call may move 64 MiB in
# all: its 56 MiB chunks were refused. Chunks of 60 MiB less the tracked files fit.
sed -i 's|^chunk=.*|chunk=$(( 60 * 1024 * 1024 - $(git ls-files -z \| du -cb --files0-from=- 2>/dev/null \| tail -1 \| cut -f1) ))|' "$copy/pack.sh"
bash "$copy/pack.sh"
n=$(ls -d .gpu/call* | wc -l)
echo
echo "Send, in order (run tool, from the project root), each with carry [\".gpu/callK\"]:"
for i in $(seq 1 $((n - 1))); do echo "  bash .gpu/call$i/stage.sh"; done
echo "  bash .gpu/call$n/stage.sh >/dev/null && bash .gpu/call$n/run.sh bash -c \"node --import tsx tools/generator/generate.ts --quiet && node --import tsx bench/gpu-check.ts --seconds 1\" 2>&1 | tee \$OUT/gpu-check.out; cp docs/benchmarks/serving.md bench/out/gpu-check/* \$OUT/"
