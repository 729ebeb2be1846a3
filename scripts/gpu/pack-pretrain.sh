#!/usr/bin/env bash
# Prepares the transfer for pretraining on a GPU machine: the corpus shards (npm run corpus:build,
# npm run corpus:tokenize) copied into .gpu-pretrain/ (git-ignored), at most 60 MiB a transfer
# (.gpu-pretrain/part1, part2, …). run-pretrain.sh on the GPU machine gathers them and trains.
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
shards=pretraining/data/shards
[ -f $shards/index.json ] || { echo "pack-pretrain.sh: $shards/index.json missing: run npm run corpus:build && npm run corpus:tokenize" >&2; exit 1; }
rm -rf .gpu-pretrain && mkdir -p .gpu-pretrain/part1
part=1; used=0; limit=$((60 * 1024 * 1024))
for f in $(ls $shards/*.u16 | sort); do
  size=$(stat -c %s "$f")
  if [ $((used + size)) -gt $limit ]; then part=$((part + 1)); used=0; mkdir -p .gpu-pretrain/part$part; fi
  cp "$f" .gpu-pretrain/part$part/; used=$((used + size))
done
cp $shards/index.json .gpu-pretrain/part$part/
du -sh .gpu-pretrain/part*
echo "Send each part but the last with carry [\".gpu-pretrain/partK\"] and: bash scripts/gpu/run-pretrain.sh stage .gpu-pretrain/partK"
echo "Send the last (part$part) with: bash scripts/gpu/run-pretrain.sh stage .gpu-pretrain/part$part && bash scripts/gpu/run-pretrain.sh train"
