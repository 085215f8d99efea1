#!/usr/bin/env bash
# Redraw the figures the README shows, from the shipped examples, with the lifeopt command
# (needs the plot extra). Run from the repository's root: bash docs/make_figures.sh
set -euo pipefail
for example in chat_assistant research_model small_corpus finance_plan owned_cluster serving_slo compare_demand moe_vs_dense benchmark_int4 mixtral_serving; do
    lifeopt plot "examples/$example.toml" -o "docs/${example}_plan.png" --force
done
lifeopt plot examples/small_corpus.toml --vary inference.tokens=1e10..1e15:log:40 -o docs/small_corpus_sweep.png --force
lifeopt plot examples/chat_assistant.toml --vary inference.requests=1e9..1e13:log:25 --vary target.loss=1.9,2.0 \
    -o docs/chat_assistant_sweep.png --force
lifeopt plot examples/serving_slo.toml --vary serving.tpot_ms=18..80:log:30 -o docs/serving_tpot.png --force
python benchmarks/fit_serving_defaults.py --figure docs/serving_calibration.png
lifeopt fit examples/runs/isoflop_runs.csv --plot docs/isoflop_fit.png --force > /dev/null
