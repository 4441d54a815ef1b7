#!/usr/bin/env bash
# The main job: what a newcomer should see first, on the shipped architectures.
# Installs cnndsl, then checks, summarizes and draws every shipped architecture. Output goes to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
mkdir -p out

echo "== the shipped architectures"
cnndsl list

for name in $(cd architectures && ls *.cnn | sed 's/\.cnn$//'); do
  cnndsl check "$name"
  cnndsl summary "$name" --json > "out/$name.json"
done

echo; echo "== LeNet-5, layer by layer"
cnndsl summary lenet5
echo; echo "== GoogLeNet, one row per Inception module"
cnndsl summary googlenet --depth 0
echo; echo "== diagrams"
cnndsl gallery docs/gallery                      # every shipped architecture, every layer
cnndsl render lenet5 -o out/lenet5.png
cnndsl render googlenet -o out/googlenet_blocks.png --depth 0
cnndsl render resnet50 -o out/resnet50_stages.svg --depth 1

echo; echo "JSON summaries and diagrams are in out/; the gallery is in docs/gallery/"
