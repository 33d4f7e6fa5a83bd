"""Quantizes every public model statically (per-channel, 32 calibration images or samples) with `edgeforge quantize`,
runs the QDQ model in EdgeForge and in ONNX Runtime on a held-out input, and checks that >= 99% of each output's
elements agree within one quantization step (the scale of the output's DequantizeLinear; for an output computed in
float after the last DequantizeLinear, e.g. a Sigmoid, the scale of that DequantizeLinear).
Also reports the output SQNR of the quantized model against the float one and the file size ratio.
Usage: quantize_ort.py EDGEFORGE_BINARY [MODEL_FILTER] [--keep DIR]"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_DIRS = ["/usr/lib/python3/dist-packages/skimage/data/*.png",
              "/usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg"]
IMAGENET = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]
HALF = ["--mean", "0.5", "--std", "0.5"]
# name -> (model path, calibration flags, input shape for the held-out sample (NCHW or NHWC as the model takes))
EXTRA = os.environ.get("EF_QUANT_FLAGS", "").split()
MODELS = {
    "blazeface_front": ("models/npm/blazeface_front.onnx", HALF, (1, 128, 128, 3)),
    "blazeface_back": ("models/npm/blazeface_back.onnx", HALF, (1, 256, 256, 3)),
    "ppocr_det": ("models/npm/ppocr_det.onnx", IMAGENET + ["--image-size", "320,320"], (1, 3, 320, 320)),
    "ppocr_cls": ("models/npm/ppocr_cls.onnx", HALF + ["--image-size", "48,192"], (1, 3, 48, 192)),
    "openwakeword_hello_deepa": ("models/npm/openwakeword_hello_deepa.onnx", None, (1, 25, 96)),
    "mobilenet_v2": ("models/torchvision/mobilenet_v2.onnx", IMAGENET, (1, 3, 224, 224)),
    "mobilenet_v3_small": ("models/torchvision/mobilenet_v3_small.onnx", IMAGENET, (1, 3, 224, 224)),
    "resnet18": ("models/torchvision/resnet18.onnx", IMAGENET, (1, 3, 224, 224)),
    "squeezenet1_1": ("models/torchvision/squeezenet1_1.onnx", IMAGENET, (1, 3, 224, 224)),
    "shufflenet_v2_x1_0": ("models/torchvision/shufflenet_v2_x1_0.onnx", IMAGENET, (1, 3, 224, 224)),
    "efficientnet_b0": ("models/torchvision/efficientnet_b0.onnx", IMAGENET, (1, 3, 224, 224)),
}


def sanitize(name):
    return name.replace("/", "_").replace(":", "_").replace("\\", "_")


def held_out_input(flags, shape):
    """A skimage test image (a crop none of the calibration images equals), preprocessed as the flags say."""
    from skimage import data, transform
    if flags is None:  # audio features: seeded noise with the calibration samples' statistics
        return np.random.default_rng(1234).normal(0, 1, shape).astype(np.float32)
    nhwc = shape[-1] == 3
    h, w = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    img = transform.resize(data.chelsea()[20:260, 40:400], (h, w)).astype(np.float32)  # RGB in [0, 1]
    mean = np.array([float(v) for v in flags[flags.index("--mean") + 1].split(",")], np.float32)
    std = np.array([float(v) for v in flags[flags.index("--std") + 1].split(",")], np.float32)
    x = (img - mean) / std
    return (x if nhwc else x.transpose(2, 0, 1))[None].astype(np.float32)


def output_steps(model_path):
    """Per graph output: the scale of the DequantizeLinear that produces it or, through float ops, feeds it."""
    m = onnx.load(model_path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    steps = {}
    for out in m.graph.output:
        name, step = out.name, None
        for _ in range(8):
            n = producer.get(name)
            if n is None:
                break
            if n.op_type == "DequantizeLinear":
                step = float(np.max(init[n.input[1]]))
                break
            name = n.input[0]
        steps[out.name] = step
    return steps


def run(cmd, log):
    with open(log, "w") as f:
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode == 0


def main():
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        keep = args[args.index("--keep") + 1]
        del args[args.index("--keep"):args.index("--keep") + 2]
    ef, flt = args[0], (args[1] if len(args) > 1 else "")
    work = keep or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    images = os.path.join(work, "images")
    os.makedirs(images, exist_ok=True)
    for pattern in IMAGE_DIRS:
        for f in glob.glob(pattern):
            dst = os.path.join(images, os.path.basename(f))
            if not os.path.exists(dst):
                os.symlink(f, dst)
    failed = 0
    print(f"{'model':26} {'within 1 step':>14} {'SQNR dB':>8} {'size':>6}")
    for name, (path, flags, shape) in MODELS.items():
        if flt and flt not in name:
            continue
        src = os.path.join(ROOT, path)
        d = os.path.join(work, name)
        os.makedirs(os.path.join(d, "in"), exist_ok=True)
        calib = images
        if flags is None:  # non-image model: 32 seeded noise samples
            calib = os.path.join(d, "calib")
            os.makedirs(calib, exist_ok=True)
            rng = np.random.default_rng(7)
            for i in range(32):
                np.save(os.path.join(calib, f"{i:03d}.npy"), rng.normal(0, 1, shape).astype(np.float32))
        q = os.path.join(d, "q.onnx")
        cmd = [ef, "quantize", src, "-o", q, "--per-channel", "-q", "--calib", calib] + EXTRA + (flags or [])
        if not run(cmd, os.path.join(d, "quantize.log")):
            print(f"FAIL {name}: edgeforge quantize failed: {open(os.path.join(d, 'quantize.log')).read().strip()}")
            failed += 1
            continue
        m = onnx.load(q)
        inp = [i.name for i in m.graph.input if i.name not in {x.name for x in m.graph.initializer}][0]
        np.save(os.path.join(d, "in", sanitize(inp) + ".npy"), held_out_input(flags, shape))
        ok = run([ef, "run", q, "--threads", "1", "--input", f"{inp}={os.path.join(d, 'in', sanitize(inp) + '.npy')}",
                  "-o", os.path.join(d, "ef")], os.path.join(d, "ef.log"))
        ok = ok and run([ef, "run", src, "--threads", "1", "--input",
                         f"{inp}={os.path.join(d, 'in', sanitize(inp) + '.npy')}", "-o", os.path.join(d, "fp")],
                        os.path.join(d, "fp.log"))
        ok = ok and run(["node", os.path.join(ROOT, "tests/models/ort_run.js"), q, os.path.join(d, "in"),
                         os.path.join(d, "ort")], os.path.join(d, "ort.log"))
        if not ok:
            print(f"FAIL {name}: a run failed (logs in {d})")
            failed += 1
            continue
        worst, sqnr = 100.0, []
        for out, step in output_steps(q).items():
            a = np.load(os.path.join(d, "ef", sanitize(out) + ".npy")).astype(np.float64)
            b = np.load(os.path.join(d, "ort", sanitize(out) + ".npy")).astype(np.float64)
            f = np.load(os.path.join(d, "fp", sanitize(out) + ".npy")).astype(np.float64)
            tol = (step if step is not None else 0.0) * 1.001 + 1e-6
            worst = min(worst, float(np.mean(np.abs(a - b) <= tol)) * 100)
            noise = np.sum((a - f) ** 2)
            sqnr.append(10 * np.log10(np.sum(f ** 2) / noise) if noise > 0 else float("inf"))
        ratio = os.path.getsize(q) / os.path.getsize(src)
        status = "PASS" if worst >= 99.0 else "FAIL"
        failed += status == "FAIL"
        print(f"{status} {name:21} {worst:13.2f}% {min(sqnr):8.1f} {ratio:6.2f}")
    print("all passed" if failed == 0 else f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
