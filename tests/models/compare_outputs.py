"""Compares two folders of .npy outputs: per output, max|diff| <= tol * max(1, max|ref|). Prints one line per output."""
import os
import sys

import numpy as np


def main(ours_dir: str, ref_dir: str, tol: float) -> int:
    names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    if not names:
        print(f"no reference outputs in {ref_dir}")
        return 1
    failed = 0
    for name in names:
        ref = np.load(os.path.join(ref_dir, name))
        path = os.path.join(ours_dir, name)
        if not os.path.exists(path):
            print(f"  {name}: missing from our outputs")
            failed += 1
            continue
        ours = np.load(path)
        if ours.shape != ref.shape or ours.dtype != ref.dtype:
            print(f"  {name}: ours {ours.dtype}{list(ours.shape)} vs ORT {ref.dtype}{list(ref.shape)}")
            failed += 1
            continue
        diff = float(np.max(np.abs(ours.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        scale = max(1.0, float(np.max(np.abs(ref.astype(np.float64)))) if ref.size else 1.0)
        ok = diff <= tol * scale
        failed += 0 if ok else 1
        print(f"  {name}: {'ok  ' if ok else 'FAIL'} max|diff|={diff:.3g} bound={tol * scale:.3g} shape={list(ref.shape)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4))
