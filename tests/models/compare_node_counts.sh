#!/usr/bin/env bash
# Node counts of `edgeforge optimize --level 2` against ONNX Runtime's basic-level optimized model, for every model of
# tests/models/models.txt at the same input shapes (the models.txt --shape arguments become --input-shape for us and
# fixed input dims in the copy ORT optimizes). Our optimized model must pass onnx::checker and, run in ORT, match ORT
# on the original model within 1e-4 * max(1, max|ref|) per output. Prints a markdown table; fails when a check fails
# or our node count exceeds ORT's.
# Usage: compare_node_counts.sh EDGEFORGE_BINARY [MODEL_FILTER]
set -uo pipefail
ef=$1
filter=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fix_shapes SRC DST [NAME=d0,d1,...]...: the model with those input dims fixed (what ORT is told the shapes are).
fix_shapes() {
  "$py" - "$@" <<'PY'
import sys, onnx
src, dst, *specs = sys.argv[1:]
m = onnx.load(src)
shapes = {s.split("=")[0]: [int(d) for d in s.split("=")[1].split(",")] for s in specs}
for i in m.graph.input:
    if i.name in shapes:
        dims = i.type.tensor_type.shape.dim
        for k, v in enumerate(shapes[i.name]):
            dims[k].ClearField("dim_param")
            dims[k].dim_value = v
onnx.save(m, dst)
PY
}
count_nodes() { "$py" -c 'import onnx, sys; print(len(onnx.load(sys.argv[1]).graph.node))' "$1"; }

failed=0
rows=()
while read -r model shape_args; do
  [[ -z "$model" || "$model" == \#* ]] && continue
  [[ -n "$filter" && "$model" != *"$filter"* ]] && continue
  name=$(basename "$model" .onnx)
  w="$work/$name"
  mkdir -p "$w"
  if [[ ! -f "$root/$model" ]]; then
    echo "FAIL $name: $model is missing (run scripts/fetch-models)"; failed=$((failed + 1)); continue
  fi
  # models.txt holds "--shape NAME=dims" pairs; keep the NAME=dims parts.
  specs=()
  read -ra words <<<"$shape_args"
  for word in "${words[@]}"; do [[ "$word" != --shape ]] && specs+=("$word"); done
  ours_flags=()
  for s in "${specs[@]}"; do ours_flags+=(--input-shape "$s"); done
  run_flags=()
  for s in "${specs[@]}"; do run_flags+=(--shape "$s"); done

  fix_shapes "$root/$model" "$w/fixed.onnx" "${specs[@]}"
  if ! "$ef" run "$root/$model" "${run_flags[@]}" --threads 1 --save-inputs "$w/in" -o "$w/ef" >"$w/run.log" 2>&1; then
    echo "FAIL $name: edgeforge run failed: $(tail -1 "$w/run.log")"; failed=$((failed + 1)); continue
  fi
  if ! node "$root/tests/models/ort_run.js" "$w/fixed.onnx" "$w/in" "$w/ort_ref" --opt-level basic \
      --save-optimized "$w/ort_basic.onnx" 2>"$w/ort.log"; then
    echo "FAIL $name: onnxruntime failed: $(tail -1 "$w/ort.log")"; failed=$((failed + 1)); continue
  fi
  if ! "$ef" optimize "$root/$model" -o "$w/ours.onnx" --level 2 "${ours_flags[@]}" >"$w/opt.log" 2>&1; then
    echo "FAIL $name: edgeforge optimize failed: $(tail -1 "$w/opt.log")"; failed=$((failed + 1)); continue
  fi
  if ! "$py" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))' "$w/ours.onnx" 2>"$w/check.log"; then
    echo "FAIL $name: onnx.checker rejects our model: $(tail -1 "$w/check.log")"; failed=$((failed + 1)); continue
  fi
  if ! node "$root/tests/models/ort_run.js" "$w/ours.onnx" "$w/in" "$w/ort_ours" --opt-level basic 2>"$w/ort2.log"; then
    echo "FAIL $name: onnxruntime cannot run our model: $(tail -1 "$w/ort2.log")"; failed=$((failed + 1)); continue
  fi
  if ! diff_out=$("$py" "$root/tests/models/compare_outputs.py" "$w/ort_ours" "$w/ort_ref" 1e-4); then
    echo "FAIL $name: outputs differ"; echo "$diff_out"; failed=$((failed + 1)); continue
  fi
  original=$(count_nodes "$root/$model")
  ort=$(count_nodes "$w/ort_basic.onnx")
  ours=$(count_nodes "$w/ours.onnx")
  verdict="ok"
  if (( ours > ort )); then verdict="MORE THAN ORT"; failed=$((failed + 1)); fi
  rows+=("| $name | $original | $ort | $ours | $verdict |")
done < "$root/tests/models/models.txt"

echo "| model | original nodes | ORT basic nodes | ours (level 2) | |"
echo "|---|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo "$failed failed"
[[ $failed -eq 0 ]]
