#!/usr/bin/env bash
# On the GPU machine (PyTorch and transformers installed), in the project root:
#   run-pretrain.sh stage DIR   keep DIR's shards in /root/pretrain-stage until the last part arrives
#   run-pretrain.sh train       pretrain (MLM + SimCSE, ~8 min), export to ONNX fp32 + fp16, and copy
#                               the model directory and logs to $OUT, files over 15 MiB in parts
# Extra arguments after `train` go to pretrain.py (e.g. --mlm-minutes 5).
set -euo pipefail
stage=/root/pretrain-stage
case "${1:-}" in
  stage)
    mkdir -p $stage && cp "$2"/* $stage/ && ls -la $stage | tail -n +2
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true ;;
  train)
    shift
    out=${OUT:-/tmp/pretrain-out}; mkdir -p "$out"
    data=pretraining/data/shards; mkdir -p $data && cp $stage/* $data/
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())'
    python3 pretraining/pretrain.py --data $data --out pretraining/out "$@" 2>&1 | tee "$out/pretrain.log"
    python3 pretraining/export_onnx.py --hf pretraining/out/hf --data $data --out models/pretrained 2>&1 | tee "$out/export.log"
    cp pretraining/out/train-metrics.json "$out/"
    bash scripts/gpu/collect.sh models/pretrained "$out/pretrained"
    tail -n 20 "$out/pretrain.log" ;;
  *) echo "usage: run-pretrain.sh stage DIR | train [pretrain.py options]" >&2; exit 2 ;;
esac
