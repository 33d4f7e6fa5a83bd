"""Exports torchvision architectures to ONNX (opset 13) with fixed random weights, for the real-model tests."""
import os
import sys

import torch
import torchvision

MODELS = ["mobilenet_v2", "mobilenet_v3_small", "resnet18", "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_b0"]


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name in MODELS:
        path = os.path.join(out_dir, f"{name}.onnx")
        if os.path.exists(path):
            continue
        model = getattr(torchvision.models, name)(weights=None).eval()
        example = torch.rand(1, 3, 224, 224)
        torch.onnx.export(model, example, path, opset_version=13, input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)
        print(f"exported {path}")


if __name__ == "__main__":
    main(sys.argv[1])
