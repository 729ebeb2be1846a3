#!/usr/bin/env bash
# The whole pipeline, resumable, from one command in the project root:
#   npm run pretrain [-- train.py options, e.g. --mlm-minutes 25 --contrastive-minutes 40 --device cuda]
# 1. corpus: Debian prose (build_corpus.py) and natural pairs (build_pairs.py), once    ~3 min
# 2. tokens: bertd's own tokenizer turns both into ids (corpus/*.ts), once                 ~1 min
# 3. train.py: static start, MLM, contrastive; checkpoints in pretraining/out, resumes   ~70 min
# 4. export.py into models/default, model.onnx built from it, checked against PyTorch
# Needs Debian's python3-torch, python3-scipy and libopenblas0-pthread (apt-get install them), and
# apt's English descriptions (`apt-get update -o Acquire::Languages=en`, done here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
"$py" -c 'import torch, scipy' 2>/dev/null || { echo "pretrain: needs python3-torch and python3-scipy (apt-get install python3-torch python3-scipy libopenblas0-pthread)" >&2; exit 2; }
data=pretraining/data
if [ ! -f $data/manifest.json ]; then
  nice -n 5 "$py" pretraining/corpus/build_corpus.py --out $data --max-mb 12 --packages \
    debian-reference-en,debian-handbook,developers-reference,debian-policy,maint-guide,debian-faq,debian-history,python3.11-doc,postgresql-doc-15,git-doc,sqlite3-doc,gnome-user-docs,manpages,manpages-dev,perl-doc,dict-gcide,dict-foldoc,dict-jargon,dict-devil,dict-vera,fortunes,linux-doc-6.1,apache2-doc,rust-doc
fi
if [ ! -f $data/pairs-manifest.json ]; then
  ls /var/lib/apt/lists/*_main_i18n_Translation-en.lz4 >/dev/null 2>&1 || apt-get update -o Acquire::Languages=en
  "$py" pretraining/corpus/build_pairs.py --out $data
fi
if [ ! -f $data/sections-test.ids.jsonl ]; then
  node --import tsx pretraining/corpus/tokenize.ts --data $data
  for f in pairs heldout-debian; do
    node --import tsx pretraining/corpus/tokenize_jsonl.ts --in $data/$f.jsonl --out $data/$f.ids.jsonl --fields a,b --keep source,group,id
  done
  for s in train test; do
    node --import tsx pretraining/corpus/tokenize_jsonl.ts --in test/fixtures/debian-package-sections/$s.jsonl --out $data/sections-$s.ids.jsonl --fields text --keep label,id
  done
fi
"$py" pretraining/train.py --data $data --out pretraining/out "$@"
"$py" pretraining/export.py --data $data --out pretraining/out
node --import tsx tools/generator/generate.ts --from-weights models/default
node --import tsx pretraining/check-export.ts --dir models/default --reference pretraining/out/reference.json
