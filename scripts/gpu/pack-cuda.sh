#!/usr/bin/env bash
# Prepares the transfers for `npm run gpu:check` on a GPU machine that reaches no registry (see
# ../../README.md, GPU section, and ../shared/gpu/README.md): runs the shared pack.sh, which packs
# node, every git-ignored path and ONNX Runtime's CUDA provider into .gpu/call1 … .gpu/callN.
# Large ignored outputs that the check does not need (the pretraining corpus, benchmark models, which
# gpu:check regenerates there, local head stores) are moved aside meanwhile so they stay out of the pack.
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
pack=${BERTD_GPU_PACK:-$root/../../shared/gpu/pack.sh}
[ -x "$pack" ] || pack=/work/shared/gpu/pack.sh
[ -f "$pack" ] || { echo "pack-cuda.sh: the shared pack.sh is not at $pack (set BERTD_GPU_PACK)" >&2; exit 1; }
aside=$(mktemp -d "$root/../.bertd-gpu-aside.XXXXXX")
restore() { for p in "$aside"/*; do [ -e "$p" ] || continue; name=$(basename "$p" | tr '%' '/'); mv "$p" "$root/$name"; done; rmdir "$aside"; }
trap restore EXIT
for p in models/pretraining/data models/pretraining/out models/pretrained bench/out data .gpu-pretrain; do
  [ -e "$p" ] && git check-ignore -q "$p" && mv "$p" "$aside/$(echo "$p" | tr '/' '%')"
done
bash "$pack"
n=$(ls -d .gpu/call* | wc -l)
echo
echo "Send, in order (run tool, from the project root), each with carry [\".gpu/callK\"]:"
for i in $(seq 1 $((n - 1))); do echo "  bash .gpu/call$i/stage.sh"; done
echo "  bash .gpu/call$n/stage.sh && bash .gpu/call$n/run.sh npm run gpu:check 2>&1 | tee bench/out/gpu-check.log; cp BENCHMARKS.md bench/out/gpu-check/* \$OUT/"
