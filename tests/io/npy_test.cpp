#include <gtest/gtest.h>

#include <cstring>

#include "io/npy.h"

namespace ef {
namespace npy_test {

TEST(Npy, RoundTripsEveryStoredType) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32, DType::kUInt8, DType::kInt8,
                  DType::kBool, DType::kFloat16}) {
    Tensor a = Tensor::zeros(t, {2, 3});
    for (size_t i = 0; i < a.nbytes(); ++i) static_cast<uint8_t*>(a.raw())[i] = static_cast<uint8_t>(i % 2);
    Tensor b = parse_npy(serialize_npy(a), "test");
    EXPECT_EQ(b.dtype(), t);
    EXPECT_EQ(b.shape(), a.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
  }
  Tensor scalar = parse_npy(serialize_npy(Tensor::scalar<float>(DType::kFloat32, 2.5f)), "scalar");
  EXPECT_EQ(scalar.rank(), 0u);
  EXPECT_EQ(scalar.data<float>()[0], 2.5f);
  Tensor vec = parse_npy(serialize_npy(Tensor::zeros(DType::kFloat32, {5})), "vec");
  EXPECT_EQ(vec.shape(), (Shape{5}));
}

TEST(Npy, RejectsBadFiles) {
  EXPECT_THROW(parse_npy("not a numpy file", "x"), Error);
  std::string good = serialize_npy(Tensor::zeros(DType::kFloat32, {4}));
  EXPECT_THROW(parse_npy(good.substr(0, good.size() - 4), "x"), Error);  // data shorter than the shape says
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THROW(parse_npy(fortran, "x"), Error);
  std::string big_endian = good;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  EXPECT_THROW(parse_npy(big_endian, "x"), Error);
}

}  // namespace
}  // namespace ef
