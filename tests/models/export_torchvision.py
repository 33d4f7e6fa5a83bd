"""Exports torchvision architectures to ONNX (opset 13) with fixed random weights, for the real-model tests.

Pretrained weights would need a download, so the weights are random (seeded). Freshly initialized networks in eval
mode produce near-zero logits, which would make any output comparison trivially pass; so the batch-norm running
statistics are first estimated on random images and the classifier is re-initialized at unit gain, which gives
activations and logits of realistic magnitude (order 1) through the whole network."""
import os
import sys

import torch
import torchvision

MODELS = ["mobilenet_v2", "mobilenet_v3_small", "resnet18", "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_b0"]


def calibrate(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=m.in_features ** -0.5)
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(8, 3, 224, 224))
    model.eval()


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name in MODELS:
        path = os.path.join(out_dir, f"{name}.onnx")
        if os.path.exists(path):
            continue
        model = getattr(torchvision.models, name)(weights=None)
        calibrate(model)
        example = torch.rand(1, 3, 224, 224)
        torch.onnx.export(model, example, path, opset_version=13, input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)
        print(f"exported {path}")


if __name__ == "__main__":
    main(sys.argv[1])
