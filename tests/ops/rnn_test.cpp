// RNN/GRU/LSTM tests. Expected values of the larger cases come from an independent NumPy transcription of the
// ONNX equations (seq-major, one direction at a time); the first RNN case is checked by hand.
#include <algorithm>
#include <cmath>

#include "ops/op_test_util.h"

namespace ef::test {
namespace rnn_test {

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  auto got = values<float>(t);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

Attribute attr_strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

// Copies a [S, B, ...] tensor into [B, S, ...] order (layout=1 of X and Y).
Tensor swap01(const Tensor& t) {
  Shape s = t.shape();
  int64_t inner = t.numel() / (s[0] * s[1]);
  std::vector<float> in = values<float>(t), out(in.size());
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t k = 0; k < inner; ++k) out[(b * s[0] + a) * inner + k] = in[(a * s[1] + b) * inner + k];
  std::swap(s[0], s[1]);
  return f32(s, out);
}

TEST(Rnn, HandCheckedTanhSteps) {
  // h1 = tanh(0.5 * 1) ; h2 = tanh(0.5 * 2 + 2 * h1)
  auto out = run_op({"RNN", 14, {{"hidden_size", attr_int(1)}}},
                    {f32({2, 1, 1}, {1, 2}), f32({1, 1, 1}, {0.5f}), f32({1, 1, 1}, {2})}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{2, 1, 1, 1}));
  EXPECT_EQ(out[1].shape(), (Shape{1, 1, 1}));
  float h1 = std::tanh(0.5f), h2 = std::tanh(1.0f + 2 * h1);
  expect_near(out[0], {h1, h2});
  expect_near(out[1], {h2});
}

TEST(Rnn, BidirectionalWithSequenceLensAndInitialState) {
  Tensor x = f32({3, 2, 2}, {-0.9f, -0.6f, -0.3f, 0, 0.3f, 0.6f, 0.9f, -0.9f, -0.6f, -0.3f, 0, 0.3f});
  Tensor w = f32({2, 2, 2}, {-0.4f, -0.2f, 0, 0.2f, 0.4f, 0.6f, 0.8f, -0.4f});
  Tensor r = f32({2, 2, 2}, {-0.15f, 0, 0.15f, 0.3f, 0.45f, 0.6f, 0.75f, -0.15f});
  Tensor b = f32({2, 4}, {-0.15f, -0.1f, -0.05f, 0, 0.05f, 0.1f, 0.15f, -0.15f});
  Tensor h0 = f32({2, 2, 2}, {-0.2f, -0.1f, 0, 0.1f, 0.2f, 0.3f, 0.4f, -0.2f});
  Tensor lens = Tensor::from_vector<int32_t>(DType::kInt32, {2}, {3, 2});
  auto out = run_op({"RNN", 7, {{"hidden_size", attr_int(2)}, {"direction", attr_string("bidirectional")}}},
                    {x, w, r, b, lens, h0}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{3, 2, 2, 2}));
  // Batch row 1 stops after two steps: its third-step outputs are zero in both directions.
  expect_near(out[0], {0.3004371f, -0.2729051f, -0.07982977f, -0.06988589f, -0.2768016f, -0.1719168f,
                       0.5660962f, -0.3466108f, -0.4502913f,  -0.01680438f, -0.3522635f, -0.3031096f,
                       0.4815132f, 0.03184025f, 0.07982977f,  0.8763931f,   0.1659934f,  -0.2284798f,
                       0,          0,           0.04995837f,  -0.2958816f,  0,           0});
  expect_near(out[1],
              {0.1659934f, -0.2284798f, -0.3522635f, -0.3031096f, -0.2768016f, -0.1719168f, 0.5660962f, -0.3466108f});
}

TEST(Rnn, ActivationAlphaAppliesAndLayoutOneTransposes) {
  Tensor x = f32({2, 3, 1}, {1, -2, 3, -4, 5, -6});  // [seq, batch, input]
  Tensor w = f32({1, 1, 1}, {1});
  Tensor r = f32({1, 1, 1}, {0});
  std::map<std::string, Attribute> attrs = {{"hidden_size", attr_int(1)},
                                            {"activations", attr_strings({"LeakyRelu"})},
                                            {"activation_alpha", attr_floats({0.5f})}};
  auto seq_major = run_op({"RNN", 14, attrs}, {x, w, r}, 2);
  expect_near(seq_major[0], {1, -1, 3, -2, 5, -3});
  attrs["layout"] = attr_int(1);
  auto batch_major = run_op({"RNN", 14, attrs}, {swap01(x), w, r}, 2);
  EXPECT_EQ(batch_major[0].shape(), (Shape{3, 2, 1, 1}));
  EXPECT_EQ(batch_major[1].shape(), (Shape{3, 1, 1}));
  expect_near(batch_major[0], values<float>(swap01(seq_major[0].reshaped({2, 3, 1}))));
  expect_near(batch_major[1], {-2, 5, -3});
}

TEST(Rnn, EveryActivationFunction) {
  // W = 1, R = 0: each step's output is the activation of that step's input.
  const std::vector<float> xs = {-2, -0.5f, 0.5f, 3};
  struct Case {
    const char* name;
    std::vector<float> alpha, beta;
    float (*fn)(float);
  };
  const Case cases[] = {
      {"Relu", {}, {}, [](float x) { return std::max(0.0f, x); }},
      {"Sigmoid", {}, {}, [](float x) { return 1 / (1 + std::exp(-x)); }},
      {"Affine", {2}, {1}, [](float x) { return 2 * x + 1; }},
      {"LeakyRelu", {}, {}, [](float x) { return x >= 0 ? x : 0.01f * x; }},
      {"ThresholdedRelu", {0.5f}, {}, [](float x) { return x >= 0.5f ? x : 0.0f; }},
      {"ScaledTanh", {2}, {0.5f}, [](float x) { return 2 * std::tanh(0.5f * x); }},
      {"HardSigmoid", {}, {}, [](float x) { return std::min(std::max(0.2f * x + 0.5f, 0.0f), 1.0f); }},
      {"Elu", {0.5f}, {}, [](float x) { return x >= 0 ? x : 0.5f * (std::exp(x) - 1); }},
      {"Softsign", {}, {}, [](float x) { return x / (1 + std::fabs(x)); }},
      {"Softplus", {}, {}, [](float x) { return std::log(1 + std::exp(x)); }},
  };
  for (const Case& c : cases) {
    std::map<std::string, Attribute> attrs = {{"activations", attr_strings({c.name})}};
    if (!c.alpha.empty()) attrs["activation_alpha"] = attr_floats(c.alpha);
    if (!c.beta.empty()) attrs["activation_beta"] = attr_floats(c.beta);
    auto out = run_op({"RNN", 7, attrs}, {f32({4, 1, 1}, xs), f32({1, 1, 1}, {1}), f32({1, 1, 1}, {0})}, 1);
    std::vector<float> want;
    for (float x : xs) want.push_back(c.fn(x));
    SCOPED_TRACE(c.name);
    expect_near(out[0], want);
  }
}

TEST(Rnn, PerDirectionActivationsAndSchemaDefaultList) {
  Tensor x = f32({2, 1, 1}, {-1, 2});
  Tensor w = f32({2, 1, 1}, {1, 1});
  Tensor r = f32({2, 1, 1}, {0, 0});
  auto out = run_op({"RNN",
                     14,
                     {{"direction", attr_string("bidirectional")},
                      {"activations", attr_strings({"Relu", "Affine"})},
                      {"activation_alpha", attr_floats({3})}}},
                    {x, w, r}, 1);
  // Y[t][dir]: forward Relu, reverse Affine(3x + 0).
  expect_near(out[0], {0, -3, 2, 6});
  // RNN's schema default names two functions; a forward layer uses the first.
  auto fwd = run_op({"RNN", 14, {{"activations", attr_strings({"Relu", "Tanh"})}}},
                    {x, f32({1, 1, 1}, {1}), f32({1, 1, 1}, {0})}, 1);
  expect_near(fwd[0], {0, 2});
}

struct GruData {
  Tensor x = f32({2, 2, 3}, {-0.9f, -0.6f, -0.3f, 0, 0.3f, 0.6f, 0.9f, -0.9f, -0.6f, -0.3f, 0, 0.3f});
  Tensor w = f32({1, 6, 3}, {-0.4f, -0.2f, 0, 0.2f, 0.4f, 0.6f, 0.8f, -0.4f, -0.2f, 0, 0.2f, 0.4f, 0.6f, 0.8f, -0.4f,
                             -0.2f, 0, 0.2f});
  Tensor r = f32({1, 6, 2}, {-0.15f, 0, 0.15f, 0.3f, 0.45f, 0.6f, 0.75f, -0.15f, 0, 0.15f, 0.3f, 0.45f});
  Tensor b = f32({1, 12}, {-0.15f, -0.1f, -0.05f, 0, 0.05f, 0.1f, 0.15f, -0.15f, -0.1f, -0.05f, 0, 0.05f});
  Tensor h0 = f32({1, 2, 2}, {-0.2f, -0.1f, 0, 0.1f});
};

TEST(Gru, LinearBeforeResetChangesCandidate) {
  GruData d;
  auto out = run_op({"GRU", 14, {{"hidden_size", attr_int(2)}}}, {d.x, d.w, d.r, d.b, Tensor(), d.h0}, 2);
  expect_near(out[0],
              {-0.3854036f, 0.134194f, 0.0300299f, 0.1813482f, -0.1195058f, -0.1047568f, -0.09327276f, 0.2457864f});
  expect_near(out[1], {-0.1195058f, -0.1047568f, -0.09327276f, 0.2457864f});
  auto lbr = run_op({"GRU", 3, {{"hidden_size", attr_int(2)}, {"linear_before_reset", attr_int(1)}}},
                    {d.x, d.w, d.r, d.b, Tensor(), d.h0}, 2);
  expect_near(lbr[0],
              {-0.3852054f, 0.1108341f, 0.0289501f, 0.1724732f, -0.1164615f, -0.1060688f, -0.09527973f, 0.2295164f});
}

TEST(Gru, ReverseWithParameterisedActivations) {
  GruData d;
  // alpha/beta are queues: HardSigmoid takes (0.3, 0.4), Affine takes (2.0, 0.5).
  auto out = run_op({"GRU",
                     1,
                     {{"hidden_size", attr_int(2)},
                      {"direction", attr_string("reverse")},
                      {"activations", attr_strings({"HardSigmoid", "affine"})},
                      {"activation_alpha", attr_floats({0.3f, 2.0f})},
                      {"activation_beta", attr_floats({0.4f, 0.5f})}}},
                    {d.x, d.w, d.r, d.b, Tensor(), d.h0}, 2);
  expect_near(out[0],
              {-0.3593165f, 0.9545305f, 0.4326842f, 1.001265f, 0.389172f, 0.07094443f, 0.00704718f, 0.7158155f});
  expect_near(out[1], {-0.3593165f, 0.9545305f, 0.4326842f, 1.001265f});
}

struct LstmData {
  Tensor x = f32({2, 1, 2}, {-1.2f, -0.8f, -0.4f, 0});
  Tensor w =
      f32({1, 8, 2}, {-0.4f, -0.2f, 0, 0.2f, 0.4f, 0.6f, 0.8f, -0.4f, -0.2f, 0, 0.2f, 0.4f, 0.6f, 0.8f, -0.4f, -0.2f});
  Tensor r = f32({1, 8, 2},
                 {-0.15f, 0, 0.15f, 0.3f, 0.45f, 0.6f, 0.75f, -0.15f, 0, 0.15f, 0.3f, 0.45f, 0.6f, 0.75f, -0.15f, 0});
  Tensor b = f32({1, 16}, {-0.15f, -0.1f, -0.05f, 0, 0.05f, 0.1f, 0.15f, -0.15f, -0.1f, -0.05f, 0, 0.05f, 0.1f, 0.15f,
                           -0.15f, -0.1f});
  Tensor h0 = f32({1, 1, 2}, {-0.2f, -0.1f});
  Tensor c0 = f32({1, 1, 2}, {-0.3f, 0});
  Tensor p = f32({1, 6}, {-0.75f, -0.5f, -0.25f, 0, 0.25f, 0.5f});
};

TEST(Lstm, PeepholesAndInitialCellState) {
  LstmData d;
  auto out = run_op({"LSTM", 7, {{"hidden_size", attr_int(2)}}}, {d.x, d.w, d.r, d.b, Tensor(), d.h0, d.c0, d.p}, 3);
  expect_near(out[0], {-0.1785752f, 0.05245345f, -0.2470813f, 0.02477221f});
  expect_near(out[1], {-0.2470813f, 0.02477221f});
  expect_near(out[2], {-0.5816362f, 0.06224691f});
}

TEST(Lstm, InputForgetAndClip) {
  LstmData d;
  // Clip bounds every activation's input, h(C) included, but the carried cell state stays unclipped.
  Tensor c0 = f32({1, 1, 2}, {-0.9f, 0});
  auto out =
      run_op({"LSTM", 14, {{"hidden_size", attr_int(2)}, {"input_forget", attr_int(1)}, {"clip", attr_float(0.3f)}}},
             {d.x, d.w, d.r, d.b, Tensor(), d.h0, c0, d.p}, 3);
  expect_near(out[0], {-0.1239703f, 0.05248786f, -0.1356789f, 0.01564924f});
  expect_near(out[2], {-0.3883181f, 0.0367901f});
}

TEST(Lstm, EmptySequenceGivesZeroStates) {
  LstmData d;
  Tensor lens = Tensor::from_vector<int32_t>(DType::kInt32, {1}, {0});
  auto out = run_op({"LSTM", 14, {{"hidden_size", attr_int(2)}}}, {d.x, d.w, d.r, d.b, lens, d.h0, d.c0, d.p}, 3);
  expect_near(out[0], {0, 0, 0, 0});
  expect_near(out[1], {0, 0});
  expect_near(out[2], {0, 0});
}

TEST(Lstm, HiddenSizeDefaultsToRWidthAndYcIsOptional) {
  LstmData d;
  auto out = run_op({"LSTM", 14, {}}, {d.x, d.w, d.r, d.b, Tensor(), d.h0, d.c0, d.p}, 2);
  EXPECT_EQ(out[1].shape(), (Shape{1, 1, 2}));
  expect_near(out[1], {-0.2470813f, 0.02477221f});
}

TEST(Rnn, Float64Works) {
  auto x = Tensor::from_vector<double>(DType::kFloat64, {1, 1, 1}, {0.25});
  auto w = Tensor::from_vector<double>(DType::kFloat64, {1, 1, 1}, {2.0});
  auto r = Tensor::from_vector<double>(DType::kFloat64, {1, 1, 1}, {0.0});
  auto out = run_op({"RNN", 14, {}}, {x, w, r}, 2);
  EXPECT_EQ(out[1].dtype(), DType::kFloat64);
  EXPECT_NEAR(values<double>(out[1])[0], std::tanh(0.5), 1e-12);
}

TEST(Rnn, BadInputsThrow) {
  Tensor x = f32({2, 1, 1}, {1, 2});
  Tensor w = f32({1, 1, 1}, {1});
  Tensor r = f32({1, 1, 1}, {1});
  // W has the wrong number of rows for hidden_size 2.
  EXPECT_THROW(run_op({"RNN", 14, {{"hidden_size", attr_int(2)}}}, {x, w, r}, 2), Error);
  // sequence_lens beyond seq_length is a data error.
  try {
    run_op({"RNN", 14, {}}, {x, w, r, Tensor(), Tensor::from_vector<int32_t>(DType::kInt32, {1}, {3})}, 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  try {
    run_op({"RNN", 14, {{"activations", attr_strings({"Swish"})}}}, {x, w, r}, 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  EXPECT_THROW(run_op({"GRU", 14, {{"direction", attr_string("sideways")}}}, {x, w, r}, 2), Error);
  // W must share X's element type.
  EXPECT_THROW(run_op({"RNN", 14, {}}, {x, Tensor::from_vector<double>(DType::kFloat64, {1, 1, 1}, {1.0}), r}, 2),
               Error);
}

}  // namespace
}  // namespace ef::test
