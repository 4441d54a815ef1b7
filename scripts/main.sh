#!/usr/bin/env bash
# The main job: what a newcomer should see first, on the shipped architectures.
# Installs cnndsl; checks, summarizes and draws every shipped architecture; trains LeNet-5 on the
# built-in digits and plots its curves. Output goes to ./out/.
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
cnndsl gallery out/gallery                       # every shipped architecture, every layer
cnndsl render lenet5 -o out/lenet5.png
cnndsl render googlenet -o out/googlenet_blocks.png --depth 0
cnndsl render resnet50 -o out/resnet50_stages.svg --depth 1

echo; echo "== LeNet-5 learning the built-in digits (10 epochs)"
cnndsl train lenet5 --epochs 10 --metrics out/lenet5_metrics.json --plot out/lenet5_curves.png

echo; echo "JSON summaries, diagrams, the gallery and training curves are in out/"
