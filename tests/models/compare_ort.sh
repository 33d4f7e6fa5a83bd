#!/usr/bin/env bash
# For every model of tests/models/models.txt: generate seeded inputs with `edgeforge run --save-inputs`, run ONNX
# Runtime on the same inputs, and compare outputs (max|diff| <= 1e-4 * max(1, max|ref|) per output), for EdgeForge
# at 1 thread and at 2 (same seed, so the same inputs): some kernels are chosen by thread count.
# Usage: compare_ort.sh EDGEFORGE_BINARY [MODEL_FILTER]
set -uo pipefail
ef=$1
filter=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0; passed=0
# compare EF_DIR LABEL: one EdgeForge run's outputs against ONNX Runtime's ($work/$name/ort).
compare() {
  if out=$(/usr/bin/python3 "$root/tests/models/compare_outputs.py" "$1" "$work/$name/ort" 1e-4); then
    echo "PASS $2"; passed=$((passed + 1))
  else
    echo "FAIL $2"; failed=$((failed + 1))
  fi
  echo "$out"
}
while read -r model shape_args; do
  [[ -z "$model" || "$model" == \#* ]] && continue
  [[ -n "$filter" && "$model" != *"$filter"* ]] && continue
  name=$(basename "$model" .onnx)
  if [[ ! -f "$root/$model" ]]; then
    echo "FAIL $name: $model is missing (run scripts/fetch-models)"; failed=$((failed + 1)); continue
  fi
  # shellcheck disable=SC2086
  if ! "$ef" run "$root/$model" $shape_args --threads 1 --save-inputs "$work/$name/in" -o "$work/$name/ef" >"$work/$name.log" 2>&1; then
    echo "FAIL $name: edgeforge run failed: $(tail -1 "$work/$name.log")"; failed=$((failed + 1)); continue
  fi
  if ! node "$root/tests/models/ort_run.js" "$root/$model" "$work/$name/in" "$work/$name/ort" 2>"$work/$name.ort.log"; then
    echo "FAIL $name: onnxruntime failed: $(tail -1 "$work/$name.ort.log")"; failed=$((failed + 1)); continue
  fi
  compare "$work/$name/ef" "$name"
  # shellcheck disable=SC2086
  if ! "$ef" run "$root/$model" $shape_args --threads 2 -o "$work/$name/ef2" >"$work/$name.2.log" 2>&1; then
    echo "FAIL $name (2 threads): edgeforge run failed: $(tail -1 "$work/$name.2.log")"; failed=$((failed + 1))
    continue
  fi
  compare "$work/$name/ef2" "$name (2 threads)"
done < "$root/tests/models/models.txt"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
