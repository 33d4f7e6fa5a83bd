"""Realistic input samples for calibrating and evaluating quantized models (used by bench/quant_report).

Image models get random crops (seeded: position, scale 30-100% of the shorter side, aspect matched to the input,
horizontal flip) of the photos and scans Debian ships with scikit-image and scikit-learn, resized to the model's
input and normalized the way each model family expects. The speech model (openWakeWord) takes 25 frames of 96-dim
embeddings from Google's speech-embedding network, which is not available here: its samples are a stand-in
(temporally correlated Gaussian frames), said so in the report.

Writes one sub-folder per sample holding <input name>.npy (the `edgeforge quantize --calib` / `compare --data`
layout)."""
import functools
import glob
import os

import numpy as np
import skimage.io
import skimage.transform

IMAGE_GLOBS = ["/usr/lib/python3/dist-packages/skimage/data/*.png",
               "/usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg"]
TEXT_IMAGES = ("page.png", "text.png", "bw_text.png")
IMAGENET = (np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))

# name -> (normalization of pixel/255 as (mean, std), images: "all" or "text")
FAMILIES = {
    "blazeface": ((np.array([0.5] * 3), np.array([0.5] * 3)), "all"),   # [-1, 1]
    "ppocr_det": (IMAGENET, "all"),
    "ppocr_cls": ((np.array([0.5] * 3), np.array([0.5] * 3)), "text"),
}


@functools.lru_cache(maxsize=None)
def _images(which):
    out = []
    for pattern in IMAGE_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if which == "text" and os.path.basename(path) not in TEXT_IMAGES:
                continue
            a = skimage.io.imread(path)
            if a.ndim == 2:
                a = np.stack([a] * 3, axis=-1)
            a = a[..., :3]
            if min(a.shape[:2]) >= 64:
                out.append(a.astype(np.float32))
    return out


def _crop(rng, image, h, w):
    ih, iw = image.shape[:2]
    aspect = w / h
    side = rng.uniform(0.3, 1.0) * min(ih, iw)
    ch, cw = side, side * aspect
    if cw > iw:  # wide inputs (text lines): keep the aspect, shrink to fit
        ch, cw = ch * iw / cw, iw
    ch, cw = max(8, int(ch)), max(8, int(cw))
    y, x = rng.randint(0, ih - ch + 1), rng.randint(0, iw - cw + 1)
    crop = image[y:y + ch, x:x + cw]
    if rng.rand() < 0.5:
        crop = crop[:, ::-1]
    return skimage.transform.resize(crop, (h, w), anti_aliasing=True, preserve_range=True)


def image_samples(name, shape, count, seed):
    """`shape` is the model input's (N=1) NCHW or NHWC shape; returns float32 arrays of that shape."""
    (mean, std), which = next((v for k, v in FAMILIES.items() if k in name), (IMAGENET, "all"))
    nhwc = shape[-1] == 3
    h, w = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    images = _images(which)
    rng = np.random.RandomState(seed)
    out = []
    for i in range(count):
        pixels = _crop(rng, images[rng.randint(len(images))], h, w) / 255.0
        x = ((pixels - mean) / std).astype(np.float32)
        out.append((x if nhwc else x.transpose(2, 0, 1))[None])
    return out


def embedding_samples(shape, count, seed):
    """Stand-in for speech embeddings: AR(1) over frames (rho 0.8), unit variance."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(count):
        x = np.zeros(shape[1:], np.float32)
        x[0] = rng.randn(shape[-1])
        for t in range(1, shape[1]):
            x[t] = 0.8 * x[t - 1] + 0.6 * rng.randn(shape[-1])
        out.append(x[None])
    return out


def write_samples(folder, input_name, samples):
    safe = input_name.replace("/", "_").replace(":", "_").replace("\\", "_")
    for i, x in enumerate(samples):
        d = os.path.join(folder, f"{i:04d}")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, f"{safe}.npy"), x)


def make_samples(name, input_name, shape, count, seed):
    """Returns (samples, description) for model `name` with one input of `shape`."""
    if len(shape) == 4 and (shape[1] == 3 or shape[-1] == 3):
        return image_samples(name, shape, count, seed), "image crops"
    return embedding_samples(shape, count, seed), "synthetic (correlated Gaussian frames)"
