#include <gtest/gtest.h>

#include "core/file_util.h"
#include "io/image.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace ef {
namespace io_image_test {

std::string png_bytes(int w, int h, int c, const std::vector<uint8_t>& pixels) {
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(
                             static_cast<const char*>(data), static_cast<size_t>(size)); },
                         &out, w, h, c, pixels.data(), w * c);
  return out;
}

TEST(Image, DecodesPngAndConvertsChannels) {
  std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};  // 2x2
  Image img = decode_image(png_bytes(2, 2, 3, rgb), 3, "test");
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.height, 2);
  EXPECT_EQ(img.pixels, rgb);
  Image gray = decode_image(png_bytes(2, 2, 3, rgb), 1, "test");
  EXPECT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.pixels.size(), 4u);
  EXPECT_THROW(decode_image("not an image", 3, "bad"), Error);
  EXPECT_THROW(decode_image(png_bytes(2, 2, 3, rgb).substr(0, 30), 3, "truncated"), Error);
}

TEST(Image, BilinearResizeAndNormalization) {
  Image img;
  img.height = 1;
  img.width = 2;
  img.channels = 1;
  img.pixels = {0, 200};
  Image up = resize_bilinear(img, 1, 4);
  EXPECT_EQ(up.pixels, (std::vector<uint8_t>{0, 50, 150, 200}));  // half-pixel centers, clamped at the edges
  Image rgb;
  rgb.height = rgb.width = 1;
  rgb.channels = 3;
  rgb.pixels = {255, 0, 51};
  ImagePreprocess pre;
  pre.mean = {0.5f, 0.5f, 0.5f};
  pre.std = {0.5f, 0.5f, 0.5f};
  Tensor nchw = image_to_tensor(rgb, pre);
  EXPECT_EQ(nchw.shape(), (Shape{1, 3, 1, 1}));
  EXPECT_FLOAT_EQ(nchw.data<float>()[0], 1.0f);
  EXPECT_FLOAT_EQ(nchw.data<float>()[1], -1.0f);
  pre.bgr = true;
  pre.nchw = false;
  Tensor nhwc = image_to_tensor(rgb, pre);
  EXPECT_EQ(nhwc.shape(), (Shape{1, 1, 1, 3}));
  EXPECT_NEAR(nhwc.data<float>()[0], -0.6f, 1e-6);  // B first
  EXPECT_FLOAT_EQ(nhwc.data<float>()[2], 1.0f);
}

}  // namespace
}  // namespace ef
