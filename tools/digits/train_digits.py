"""Trains the digits CNN: a small labeled task for measuring quantization accuracy (issue 5).

Reads scikit-learn's handwritten digits (8x8 images, 1797 samples, shipped by Debian python3-sklearn) directly,
splits them with a fixed seed, trains a small CNN (3 Conv+Relu, 2 MaxPool, one Gemm) with Debian python3-torch on
one thread, and writes into OUT_DIR (default models/digits):

  digits_cnn.onnx        opset 13, input 'input' float32[1,1,8,8] (pixel / 16), output 'logits' float32[1,10]
  test/NNNN.npy          the held-out test split, one float32[1,1,8,8] sample per file (file-name order)
  test_labels.npy        int64[N], the digit of test/ sample i, in file-name order (`edgeforge compare --labels`)
  test_labels.txt        the same labels, one per line
  calib/NNNN.npy         calibration samples (taken from the training split, never from test) in the layout
                         `edgeforge quantize --calib` reads
  info.json              split sizes and the FP32 test accuracy torch measured

Deterministic (fixed seeds, deterministic algorithms, one thread); about 10-20 s on one core.
Usage: /usr/bin/python3 tools/digits/train_digits.py [OUT_DIR]"""
import gzip
import json
import os
import sys

import numpy as np
import torch

DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
TEST_SIZE = 360
CALIB_SIZE = 128
EPOCHS = 30


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),   # 4x4
            torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))   # 2x2
        self.classifier = torch.nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def load_digits():
    with gzip.open(DATA, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = (table[:, :64] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    labels = table[:, 64].astype(np.int64)
    return images, labels


def write_samples(folder, images):
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
        np.save(os.path.join(folder, f"{i:04d}.npy"), image[None])


def main(out_dir):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    images, labels = load_digits()
    order = np.random.RandomState(0).permutation(len(labels))
    test_idx, train_idx = order[:TEST_SIZE], order[TEST_SIZE:]
    x_train, y_train = torch.from_numpy(images[train_idx]), torch.from_numpy(labels[train_idx])

    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batches = np.random.RandomState(1)
    for _ in range(EPOCHS):
        model.train()
        perm = torch.from_numpy(batches.permutation(len(train_idx)))
        for start in range(0, len(perm), 64):
            idx = perm[start:start + 64]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(images[test_idx])).argmax(1).numpy()
    accuracy = float((predicted == labels[test_idx]).mean())

    os.makedirs(out_dir, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), os.path.join(out_dir, "digits_cnn.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"])
    write_samples(os.path.join(out_dir, "test"), images[test_idx])
    np.save(os.path.join(out_dir, "test_labels.npy"), labels[test_idx])
    with open(os.path.join(out_dir, "test_labels.txt"), "w") as f:
        f.write("".join(f"{y}\n" for y in labels[test_idx]))
    write_samples(os.path.join(out_dir, "calib"), images[train_idx[:CALIB_SIZE]])
    with open(os.path.join(out_dir, "info.json"), "w") as f:
        json.dump({"train": len(train_idx), "test": TEST_SIZE, "calib": CALIB_SIZE, "epochs": EPOCHS,
                   "torch_fp32_test_accuracy": accuracy}, f, indent=1)
    print(f"digits CNN: {len(train_idx)} train, {TEST_SIZE} test, FP32 test accuracy {accuracy:.4f} -> {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/digits")
