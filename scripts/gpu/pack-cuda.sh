#!/usr/bin/env bash
# Prepares the transfers for gpu:check on a GPU machine that reaches no registry (see README.md beside
# this file and ../shared/gpu/README.md): runs the shared pack.sh, which packs node, every git-ignored
# path and ONNX Runtime's CUDA provider into .gpu/call1 … .gpu/callN.
# Meanwhile it moves aside what the check does not need, so that call1 stays under its 60 MiB: large
# ignored outputs (the pretraining corpus, benchmark models, which gpu:check regenerates there, head
# stores) and the development-only packages in node_modules (typescript, eslint, buf, transformers.js…).
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
pack=${BERTD_GPU_PACK:-$(cd "$root/../.." && pwd)/shared/gpu/pack.sh}
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
# models/default/model.onnx (17 MB of random floats: xz cannot shrink it) is regenerated there in a second.
for p in pretraining/data pretraining/out models/pretrained bench/out data .gpu-pretrain models/default/model.onnx; do
  if [ -e "$p" ] && git check-ignore -q "$p"; then move_aside "$p"; fi
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
bash "$copy/pack.sh"
n=$(ls -d .gpu/call* | wc -l)
echo
echo "Send, in order (run tool, from the project root), each with carry [\".gpu/callK\"]:"
for i in $(seq 1 $((n - 1))); do echo "  bash .gpu/call$i/stage.sh"; done
echo "  bash .gpu/call$n/stage.sh && bash .gpu/call$n/run.sh bash -c \"node --import tsx tools/generator/generate.ts --quiet && node --import tsx bench/gpu-check.ts --seconds 1\" > /tmp/gpu-check.out 2>&1; tail -40 /tmp/gpu-check.out; cp docs/benchmarks/serving.md bench/out/gpu-check/* /tmp/gpu-check.out \$OUT/"
