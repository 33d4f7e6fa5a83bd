// Image decoding with stb_image (header-only; its implementation is compiled here, with internal linkage) and the
// resize/normalize steps that turn an image into a model input.
#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/file_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace ef {

namespace {
constexpr uint64_t kMaxImageFileBytes = uint64_t{512} << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;
}  // namespace

Image decode_image(const std::string& bytes, int channels, const std::string& what) {
  EF_CHECK(channels == 1 || channels == 3, kInvalidArgument, "{}: images decode to 1 or 3 channels, not {}", what,
           channels);
  EF_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), kIo, "{}: file too large", what);
  int w = 0, h = 0, n = 0;
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  EF_CHECK(stbi_info_from_memory(data, len, &w, &h, &n) != 0, kIo, "{}: not a decodable image ({})", what,
           stbi_failure_reason());
  EF_CHECK(w > 0 && h > 0 && static_cast<int64_t>(w) * h <= kMaxImagePixels, kIo, "{}: image size {}x{} is out of "
           "range", what, w, h);
  stbi_uc* pixels = stbi_load_from_memory(data, len, &w, &h, &n, channels);
  EF_CHECK(pixels != nullptr, kIo, "{}: cannot decode image ({})", what, stbi_failure_reason());
  Image img;
  img.height = h;
  img.width = w;
  img.channels = channels;
  img.pixels.assign(pixels, pixels + static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(channels));
  stbi_image_free(pixels);
  return img;
}

Image read_image(const std::string& path, int channels) {
  return decode_image(read_file_bytes(path, kMaxImageFileBytes), channels, "image '" + path + "'");
}

Image resize_bilinear(const Image& image, int height, int width) {
  EF_CHECK(height > 0 && width > 0 && static_cast<int64_t>(height) * width <= kMaxImagePixels, kInvalidArgument,
           "resize to {}x{}: size out of range", height, width);
  if (height == image.height && width == image.width) return image;
  Image out;
  out.height = height;
  out.width = width;
  out.channels = image.channels;
  out.pixels.resize(static_cast<size_t>(height) * static_cast<size_t>(width) * static_cast<size_t>(image.channels));
  // Source coordinate of each destination pixel center, clamped to the image: the two taps and the weight.
  struct Tap {
    int lo, hi;
    float w;
  };
  auto taps = [](int dst, int src) {
    std::vector<Tap> t(static_cast<size_t>(dst));
    const float scale = static_cast<float>(src) / static_cast<float>(dst);
    for (int i = 0; i < dst; ++i) {
      float x = std::clamp((static_cast<float>(i) + 0.5f) * scale - 0.5f, 0.0f, static_cast<float>(src - 1));
      int lo = static_cast<int>(x);
      t[static_cast<size_t>(i)] = {lo, std::min(lo + 1, src - 1), x - static_cast<float>(lo)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(height, image.height), tx = taps(width, image.width);
  const int c = image.channels;
  auto at = [&](int y, int x, int ch) {
    return static_cast<float>(image.pixels[(static_cast<size_t>(y) * static_cast<size_t>(image.width) +
                                            static_cast<size_t>(x)) * static_cast<size_t>(c) + static_cast<size_t>(ch)]);
  };
  size_t o = 0;
  for (const Tap& y : ty) {
    for (const Tap& x : tx) {
      for (int ch = 0; ch < c; ++ch) {
        float top = at(y.lo, x.lo, ch) * (1 - x.w) + at(y.lo, x.hi, ch) * x.w;
        float bottom = at(y.hi, x.lo, ch) * (1 - x.w) + at(y.hi, x.hi, ch) * x.w;
        out.pixels[o++] = static_cast<uint8_t>(std::clamp(std::nearbyint(top * (1 - y.w) + bottom * y.w), 0.0f, 255.0f));
      }
    }
  }
  return out;
}

Tensor image_to_tensor(const Image& image, const ImagePreprocess& pre) {
  EF_CHECK(image.channels == pre.channels, kInvalidArgument, "image has {} channels, the tensor needs {}",
           image.channels, pre.channels);
  const Image sized = pre.height > 0 && pre.width > 0 ? resize_bilinear(image, pre.height, pre.width) : image;
  const int64_t h = sized.height, w = sized.width, c = sized.channels;
  Tensor t = Tensor::zeros(DType::kFloat32, pre.nchw ? Shape{1, c, h, w} : Shape{1, h, w, c});
  float* out = t.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t ch = 0; ch < c; ++ch) {
        // Tensor channel `ch` reads decoded (RGB) channel `src`.
        const int64_t src = pre.bgr && c == 3 ? 2 - ch : ch;
        const float p = static_cast<float>(sized.pixels[static_cast<size_t>((y * w + x) * c + src)]) / 255.0f;
        const float v = (p - pre.mean[static_cast<size_t>(ch)]) / pre.std[static_cast<size_t>(ch)];
        out[pre.nchw ? (ch * h + y) * w + x : (y * w + x) * c + ch] = v;
      }
    }
  }
  return t;
}

}  // namespace ef
