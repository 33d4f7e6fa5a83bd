// Intermediate values exposed as extra graph outputs come back from an ordinary run, at every optimization level.
#include "runtime/value_capture.h"

#include <gtest/gtest.h>

#include "edgeforge/session.h"
#include "onnx/model_builder.h"
#include "onnx/model_io.h"

namespace ef::test {
namespace value_capture_test {

TEST(ValueCapture, ListsComputedValuesInOrder) {
  Model m = load_model_from_bytes(serialize(make_add_relu_model()), "");
  EXPECT_EQ(computed_value_names(m), std::vector<std::string>{"t"});  // 'y' is already a graph output
}

TEST(ValueCapture, RunReturnsIntermediates) {
  Model m = load_model_from_bytes(serialize(make_add_relu_model()), "");
  Model exposed = with_extra_outputs(m, computed_value_names(m));
  EXPECT_EQ(m.graph->outputs.size(), 1u);  // the original is untouched
  Tensor x = Tensor::from_vector(DType::kFloat32, {1, 3}, std::vector<float>{-1, 0, 1});
  for (int level : {0, 2}) {
    SessionOptions opts;
    opts.optimization_level = level;
    auto s = Session::from_model(exposed, opts);
    NamedTensors out = s->run_named({{"x", x}});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].first, "y");
    EXPECT_EQ(out[1].first, "t");
    const float* t = out[1].second.data<float>();
    EXPECT_EQ(t[0], 0.0f);   // -1 + 1
    EXPECT_EQ(t[1], -2.0f);  // 0 - 2, negative: the Relu has not been applied to it
    EXPECT_EQ(t[2], 1.5f);
  }
}

TEST(ValueCapture, RejectsValuesNoNodeComputes) {
  Model m = load_model_from_bytes(serialize(make_add_relu_model()), "");
  for (const char* name : {"nope", "x", "bias"}) {
    try {
      with_extra_outputs(m, {name});
      FAIL() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace ef::test
