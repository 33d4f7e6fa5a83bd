// Image files (PNG, JPEG, BMP, ... as Debian's stb_image decodes them) -> float tensors for calibration: decode,
// bilinear resize, per-channel normalization, NCHW or NHWC layout. Depends on core only.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "edgeforge/tensor.h"

namespace ef {

// 8-bit pixels, row-major, channels interleaved.
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Decodes `path` into `channels` channels (1: gray, 3: RGB; stb converts). Throws kIo naming the file when it cannot
// be read or decoded.
Image read_image(const std::string& path, int channels);
Image decode_image(const std::string& bytes, int channels, const std::string& what);

// Bilinear resize (pixel centers aligned, as cv2.resize / Resize half_pixel), rounding back to 8 bits.
Image resize_bilinear(const Image& image, int height, int width);

struct ImagePreprocess {
  int height = 0, width = 0;  // 0: keep the decoded size
  int channels = 3;
  bool nchw = true;
  bool bgr = false;  // channel order in the tensor (decoded images are RGB)
  // value = (pixel / 255 - mean[c]) / std[c], c in tensor channel order.
  std::array<float, 3> mean{0, 0, 0};
  std::array<float, 3> std{1, 1, 1};
};

// The image as a float32 tensor [1,C,H,W] (nchw) or [1,H,W,C].
Tensor image_to_tensor(const Image& image, const ImagePreprocess& pre);

}  // namespace ef
