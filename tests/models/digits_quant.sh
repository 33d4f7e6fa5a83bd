#!/usr/bin/env bash
# Digits CNN (models/digits, from tools/digits/train_digits.py via scripts/fetch-models): INT8 test accuracy must stay
# within 1.0 point of FP32 (issue 5), measured by `edgeforge compare --labels`, for static per-channel and dynamic
# quantization (EF_DIGITS_MODES picks a subset).
# Usage: digits_quant.sh EDGEFORGE_BINARY
set -euo pipefail
ef=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
d=$root/models/digits
[[ -f $d/digits_cnn.onnx ]] || { echo "FAIL: $d/digits_cnn.onnx is missing (run scripts/fetch-models)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for mode in ${EF_DIGITS_MODES:-static dynamic}; do
  extra=()
  [[ $mode == static ]] && extra=(--calib "$d/calib" --per-channel)
  "$ef" quantize "$d/digits_cnn.onnx" -o "$work/$mode.onnx" --mode $mode --quiet "${extra[@]}" >/dev/null
  "$ef" compare "$d/digits_cnn.onnx" "$work/$mode.onnx" --data "$d/test" --labels "$d/test_labels.npy" --json \
    >"$work/$mode.json"
  if /usr/bin/python3 - "$work/$mode.json" "$mode" <<'PY'; then :; else failed=1; fi
import json, sys
acc = json.load(open(sys.argv[1]))["accuracy"]
gap = 100 * (acc["ref"] - acc["cand"])
ok = gap <= 1.0
print(f"{'PASS' if ok else 'FAIL'} {sys.argv[2]}: FP32 {100 * acc['ref']:.2f}%, INT8 {100 * acc['cand']:.2f}% "
      f"({gap:.2f} points lost, limit 1.0)")
sys.exit(0 if ok else 1)
PY
done
exit $failed
