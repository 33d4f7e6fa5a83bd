// Recurrent layers: RNN, GRU and LSTM, every version, both layouts (layout=1 is batch-first), all three
// directions, every activation the spec lists, clip, sequence_lens, initial states, peepholes, input_forget and
// linear_before_reset. The reference kernel works in double and walks each batch row on its own, which keeps
// variable sequence lengths trivially correct.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

enum class Cell { kRnn, kGru, kLstm };

// Input slots shared by the three ops; initial_c and P exist only on LSTM.
constexpr size_t kX = 0, kW = 1, kR = 2, kB = 3, kSeqLens = 4, kInitH = 5, kInitC = 6, kPeep = 7;

constexpr int64_t num_gates(Cell cell) { return cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 3 : 4; }
// Activation functions per direction: RNN f; GRU f, g; LSTM f, g, h.
constexpr size_t num_activations(Cell cell) { return cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 2 : 3; }

int64_t num_directions(const Node& node) {
  std::string dir = node.attr_string("direction", "forward");
  if (dir == "forward" || dir == "reverse") return 1;
  EF_CHECK(dir == "bidirectional", kInvalidModel, "{}: unknown direction '{}'", node.label(), dir);
  return 2;
}

// layout only exists from version 14 on; older nodes are always sequence-major.
bool is_batch_first(const Node& node) {
  int64_t layout = node.version >= 14 ? node.attr_int("layout", 0) : 0;
  EF_CHECK(layout == 0 || layout == 1, kInvalidModel, "{}: layout must be 0 or 1, got {}", node.label(), layout);
  return layout == 1;
}

void infer_recurrent(InferContext& ctx, Cell cell) {
  const Node& node = ctx.node();
  DType dtype = ctx.input_dtype(kX);
  EF_CHECK(dtype_is_float(dtype), kInvalidModel, "{}: X must be a float tensor, got {}", node.label(),
           dtype_name(dtype));
  const int64_t dirs = num_directions(node);
  const bool batch_first = is_batch_first(node);
  Dim seq, batch, hidden;
  const ValueType& x = ctx.input_type(kX);
  if (x.has_rank()) {
    EF_CHECK(x.rank() == 3, kInvalidModel, "{}: X must have rank 3, got {}", node.label(), x.str());
    seq = (*x.dims)[batch_first ? 1 : 0];
    batch = (*x.dims)[batch_first ? 0 : 1];
  }
  if (node.has_attr("hidden_size")) {
    int64_t h = node.attr_int("hidden_size", 0);
    EF_CHECK(h > 0, kInvalidModel, "{}: hidden_size must be positive, got {}", node.label(), h);
    hidden = h;
  } else if (ctx.input_type(kR).has_rank() && ctx.input_type(kR).rank() == 3) {
    hidden = (*ctx.input_type(kR).dims)[2];
  }
  if (ctx.has_output(0)) {
    ctx.set_output(0, dtype, batch_first ? Dims{batch, seq, dirs, hidden} : Dims{seq, dirs, batch, hidden});
  }
  Dims state = batch_first ? Dims{batch, dirs, hidden} : Dims{dirs, batch, hidden};
  if (ctx.has_output(1)) ctx.set_output(1, dtype, state);
  if (cell == Cell::kLstm && ctx.has_output(2)) ctx.set_output(2, dtype, state);
}

template <Cell kCell>
void infer_cell(InferContext& ctx) {
  infer_recurrent(ctx, kCell);
}

struct Activation {
  enum class Kind {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus
  };
  Kind kind = Kind::kTanh;
  double alpha = 0;
  double beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case Kind::kRelu: return std::max(0.0, x);
      case Kind::kTanh: return std::tanh(x);
      case Kind::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
      case Kind::kAffine: return alpha * x + beta;
      case Kind::kLeakyRelu: return x >= 0 ? x : alpha * x;
      case Kind::kThresholdedRelu: return x >= alpha ? x : 0.0;
      case Kind::kScaledTanh: return alpha * std::tanh(beta * x);
      case Kind::kHardSigmoid: return std::min(std::max(alpha * x + beta, 0.0), 1.0);
      case Kind::kElu: return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
      case Kind::kSoftsign: return x / (1.0 + std::fabs(x));
      // Rewritten for large x, where exp(x) overflows although the result is just about x.
      case Kind::kSoftplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    }
    return x;
  }
};

// Parses one activation name (case-insensitive, as producers differ). activation_alpha/activation_beta are queues
// consumed only by the functions that take that parameter, in list order; a function finding its queue empty
// uses the default of the ONNX operator of the same name.
Activation make_activation(const Node& node, const std::string& name, const std::vector<float>& alphas,
                           size_t& next_alpha, const std::vector<float>& betas, size_t& next_beta) {
  struct Entry {
    const char* name;
    Activation::Kind kind;
    bool has_alpha, has_beta;
    double alpha, beta;
  };
  using K = Activation::Kind;
  static const Entry kTable[] = {
      {"relu", K::kRelu, false, false, 0, 0},
      {"tanh", K::kTanh, false, false, 0, 0},
      {"sigmoid", K::kSigmoid, false, false, 0, 0},
      {"affine", K::kAffine, true, true, 1.0, 0.0},
      {"leakyrelu", K::kLeakyRelu, true, false, 0.01, 0},
      {"thresholdedrelu", K::kThresholdedRelu, true, false, 1.0, 0},
      {"scaledtanh", K::kScaledTanh, true, true, 1.0, 1.0},
      {"hardsigmoid", K::kHardSigmoid, true, true, 0.2, 0.5},
      {"elu", K::kElu, true, false, 1.0, 0},
      {"softsign", K::kSoftsign, false, false, 0, 0},
      {"softplus", K::kSoftplus, false, false, 0, 0},
  };
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const Entry& e : kTable) {
    if (lower != e.name) continue;
    Activation act{e.kind, e.alpha, e.beta};
    if (e.has_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (e.has_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    return act;
  }
  fail(ErrorCode::kUnsupported, fmt::format("{}: activation function '{}' is not supported", node.label(), name));
}

// Activations for every direction, acts[dir * per_dir + k].
std::vector<Activation> parse_activations(const Node& node, Cell cell, int64_t dirs) {
  static const char* const kDefaults[] = {"Sigmoid", "Tanh", "Tanh"};
  const size_t per_dir = num_activations(cell);
  std::vector<std::string> names;
  if (const Attribute* a = node.find_attr("activations", Attribute::Kind::kStrings)) names = a->strings;
  if (names.empty()) {
    for (int64_t d = 0; d < dirs; ++d) {
      if (cell == Cell::kRnn) {
        names.push_back("Tanh");
      } else {
        names.insert(names.end(), kDefaults, kDefaults + per_dir);
      }
    }
  }
  const size_t want = per_dir * static_cast<size_t>(dirs);
  // RNN's schema default lists two functions even for one direction, and some producers give one direction's
  // list for a bidirectional layer; accept both rather than reject models ONNX itself produces.
  if (names.size() == per_dir && dirs == 2) names.insert(names.end(), names.begin(), names.end());
  if (names.size() == 2 * per_dir && dirs == 1) names.resize(per_dir);
  EF_CHECK(names.size() == want, kInvalidModel, "{}: expected {} activation functions, got {}", node.label(), want,
           names.size());
  std::vector<float> alphas = node.attr_floats("activation_alpha");
  std::vector<float> betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> acts;
  for (const std::string& n : names) acts.push_back(make_activation(node, n, alphas, next_alpha, betas, next_beta));
  return acts;
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.value_as_double(i);
  return out;
}

void write_doubles(const std::vector<double>& src, Tensor& dst) {
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = dst.data<T>();
    for (int64_t i = 0; i < dst.numel(); ++i) p[i] = convert_value<T>(src[i]);
  });
}

// Everything one recurrent node needs at run time, validated against the inputs' shapes.
class Recurrence {
 public:
  Recurrence(KernelContext& ctx, Cell cell) : ctx_(ctx), node_(ctx.node()), cell_(cell), gates_(num_gates(cell)) {
    dirs_ = num_directions(node_);
    reverse_only_ = node_.attr_string("direction", "forward") == "reverse";
    batch_first_ = is_batch_first(node_);
    acts_ = parse_activations(node_, cell, dirs_);
    if (node_.has_attr("clip")) {
      clip_ = node_.attr_float("clip", 0);
      EF_CHECK(clip_ > 0, kInvalidModel, "{}: clip must be positive, got {}", node_.label(), clip_);
    }
    linear_before_reset_ = cell == Cell::kGru && node_.attr_int("linear_before_reset", 0) != 0;
    input_forget_ = cell == Cell::kLstm && node_.attr_int("input_forget", 0) != 0;
    load_inputs();
  }

  void run() {
    std::vector<double> y(static_cast<size_t>(seq_ * dirs_ * batch_ * hidden_), 0.0);
    std::vector<double> yh(static_cast<size_t>(dirs_ * batch_ * hidden_), 0.0);
    std::vector<double> yc(yh.size(), 0.0);
    for (int64_t d = 0; d < dirs_; ++d) {
      const bool reverse = reverse_only_ || d == 1;
      for (int64_t b = 0; b < batch_; ++b) {
        std::vector<double> h(hidden_, 0.0), c(hidden_, 0.0);
        for (int64_t j = 0; j < hidden_; ++j) {
          if (!init_h_.empty()) h[j] = init_h_[state_index(d, b, j)];
          if (!init_c_.empty()) c[j] = init_c_[state_index(d, b, j)];
        }
        const int64_t len = seq_lens_[b];
        for (int64_t s = 0; s < len; ++s) {
          const int64_t t = reverse ? len - 1 - s : s;
          step(d, b, t, h, c);
          for (int64_t j = 0; j < hidden_; ++j) y[y_index(t, d, b, j)] = h[j];
        }
        // A row with no steps reports zero final states (not its initial ones), as ONNX Runtime does.
        if (len == 0) continue;
        for (int64_t j = 0; j < hidden_; ++j) {
          yh[state_index(d, b, j)] = h[j];
          yc[state_index(d, b, j)] = c[j];
        }
      }
    }
    // Steps past a row's sequence length stay zero; outputs may be reused buffers, so write every element.
    if (ctx_.has_output(0)) write_doubles(y, ctx_.output(0));
    if (ctx_.has_output(1)) write_doubles(yh, ctx_.output(1));
    if (cell_ == Cell::kLstm && ctx_.has_output(2)) write_doubles(yc, ctx_.output(2));
  }

 private:
  // Every float input shares X's element type (ONNX's type constraint T) and must have the documented shape.
  void expect_input(size_t input, const Shape& want, const char* what) const {
    const Tensor& t = ctx_.input(input);
    EF_CHECK(t.dtype() == ctx_.input(kX).dtype(), kInvalidModel, "{}: {} is {} but X is {}", node_.label(), what,
             dtype_name(t.dtype()), dtype_name(ctx_.input(kX).dtype()));
    EF_CHECK(t.shape() == want, kInvalidModel, "{}: {} must have shape {}, got {}", node_.label(), what,
             shape_str(want), shape_str(t.shape()));
  }

  void load_inputs() {
    const Tensor& x = ctx_.input(kX);
    EF_CHECK(x.rank() == 3, kInvalidModel, "{}: X must have rank 3, got {}", node_.label(), shape_str(x.shape()));
    seq_ = x.dim(batch_first_ ? 1 : 0);
    batch_ = x.dim(batch_first_ ? 0 : 1);
    input_size_ = x.dim(2);
    const Tensor& r = ctx_.input(kR);
    EF_CHECK(r.rank() == 3, kInvalidModel, "{}: R must have rank 3, got {}", node_.label(), shape_str(r.shape()));
    hidden_ = node_.has_attr("hidden_size") ? node_.attr_int("hidden_size", 0) : r.dim(2);
    EF_CHECK(hidden_ > 0, kInvalidModel, "{}: hidden_size must be positive, got {}", node_.label(), hidden_);
    const int64_t gh = gates_ * hidden_;
    expect_input(kW, {dirs_, gh, input_size_}, "W");
    expect_input(kR, {dirs_, gh, hidden_}, "R");
    x_ = to_doubles(x);
    w_ = to_doubles(ctx_.input(kW));
    r_ = to_doubles(r);
    bias_.assign(static_cast<size_t>(dirs_ * 2 * gh), 0.0);
    if (ctx_.has_input(kB)) {
      expect_input(kB, {dirs_, 2 * gh}, "B");
      bias_ = to_doubles(ctx_.input(kB));
    }
    seq_lens_.assign(static_cast<size_t>(batch_), seq_);
    if (ctx_.has_input(kSeqLens)) {
      EF_CHECK(ctx_.input(kSeqLens).shape() == Shape{batch_}, kInvalidModel, "{}: sequence_lens must have shape [{}]",
               node_.label(), batch_);
      for (int64_t b = 0; b < batch_; ++b) {
        int64_t len = ctx_.input(kSeqLens).value_as_int(b);
        EF_CHECK(len >= 0 && len <= seq_, kInvalidArgument, "{}: sequence_lens[{}] = {} is outside [0, {}]",
                 node_.label(), b, len, seq_);
        seq_lens_[b] = len;
      }
    }
    const Shape state = batch_first_ ? Shape{batch_, dirs_, hidden_} : Shape{dirs_, batch_, hidden_};
    if (ctx_.has_input(kInitH)) {
      expect_input(kInitH, state, "initial_h");
      init_h_ = to_doubles(ctx_.input(kInitH));
    }
    if (cell_ == Cell::kLstm && ctx_.has_input(kInitC)) {
      expect_input(kInitC, state, "initial_c");
      init_c_ = to_doubles(ctx_.input(kInitC));
    }
    peep_.assign(static_cast<size_t>(dirs_ * 3 * hidden_), 0.0);
    if (cell_ == Cell::kLstm && ctx_.has_input(kPeep)) {
      expect_input(kPeep, {dirs_, 3 * hidden_}, "P");
      peep_ = to_doubles(ctx_.input(kPeep));
    }
  }

  int64_t x_index(int64_t t, int64_t b, int64_t k) const {
    return (batch_first_ ? b * seq_ + t : t * batch_ + b) * input_size_ + k;
  }
  int64_t y_index(int64_t t, int64_t d, int64_t b, int64_t j) const {
    return (batch_first_ ? (b * seq_ + t) * dirs_ + d : (t * dirs_ + d) * batch_ + b) * hidden_ + j;
  }
  int64_t state_index(int64_t d, int64_t b, int64_t j) const {
    return (batch_first_ ? b * dirs_ + d : d * batch_ + b) * hidden_ + j;
  }
  double clip(double v) const { return clip_ > 0 ? std::clamp(v, -clip_, clip_) : v; }
  const Activation& act(int64_t d, size_t k) const { return acts_[d * num_activations(cell_) + k]; }

  // Row `row` of direction d's W times X[t, b] plus Wb (the input half of every gate's pre-activation).
  double input_term(int64_t d, int64_t row, int64_t t, int64_t b) const {
    const int64_t gh = gates_ * hidden_;
    const double* w = w_.data() + (d * gh + row) * input_size_;
    double sum = bias_[d * 2 * gh + row];
    for (int64_t k = 0; k < input_size_; ++k) sum += w[k] * x_[x_index(t, b, k)];
    return sum;
  }
  // Row `row` of direction d's R times `h` plus Rb.
  double recurrent_term(int64_t d, int64_t row, const std::vector<double>& h) const {
    const int64_t gh = gates_ * hidden_;
    const double* r = r_.data() + (d * gh + row) * hidden_;
    double sum = bias_[d * 2 * gh + gh + row];
    for (int64_t k = 0; k < hidden_; ++k) sum += r[k] * h[k];
    return sum;
  }

  void step(int64_t d, int64_t b, int64_t t, std::vector<double>& h, std::vector<double>& c) const {
    const int64_t H = hidden_;
    std::vector<double> nh(H);
    if (cell_ == Cell::kRnn) {
      for (int64_t j = 0; j < H; ++j) nh[j] = act(d, 0)(clip(input_term(d, j, t, b) + recurrent_term(d, j, h)));
    } else if (cell_ == Cell::kGru) {
      // Gate rows in W/R/B: z, r, h.
      std::vector<double> z(H), r(H), reset_h(H);
      for (int64_t j = 0; j < H; ++j) {
        z[j] = act(d, 0)(clip(input_term(d, j, t, b) + recurrent_term(d, j, h)));
        r[j] = act(d, 0)(clip(input_term(d, H + j, t, b) + recurrent_term(d, H + j, h)));
        reset_h[j] = r[j] * h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        const double rec =
            linear_before_reset_ ? r[j] * recurrent_term(d, 2 * H + j, h) : recurrent_term(d, 2 * H + j, reset_h);
        const double cand = act(d, 1)(clip(input_term(d, 2 * H + j, t, b) + rec));
        nh[j] = (1.0 - z[j]) * cand + z[j] * h[j];
      }
    } else {
      // Gate rows in W/R/B: i, o, f, c; peepholes: i, o, f.
      const double* p = peep_.data() + d * 3 * H;
      std::vector<double> nc(H);
      for (int64_t j = 0; j < H; ++j) {
        const double i = act(d, 0)(clip(input_term(d, j, t, b) + recurrent_term(d, j, h) + p[j] * c[j]));
        // input_forget couples the gates: whatever the input gate lets in, the forget gate lets go.
        const double f = input_forget_ ? 1.0 - i
                                       : act(d, 0)(clip(input_term(d, 2 * H + j, t, b) +
                                                        recurrent_term(d, 2 * H + j, h) + p[2 * H + j] * c[j]));
        const double cand = act(d, 1)(clip(input_term(d, 3 * H + j, t, b) + recurrent_term(d, 3 * H + j, h)));
        nc[j] = f * c[j] + i * cand;
        const double o = act(d, 0)(clip(input_term(d, H + j, t, b) + recurrent_term(d, H + j, h) + p[H + j] * nc[j]));
        // h is an activation too, so its input is clipped; the cell state itself carries on unclipped.
        nh[j] = o * act(d, 2)(clip(nc[j]));
      }
      c = std::move(nc);
    }
    h = std::move(nh);
  }

  KernelContext& ctx_;
  const Node& node_;
  Cell cell_;
  int64_t gates_;
  int64_t dirs_ = 1;
  bool reverse_only_ = false;
  bool batch_first_ = false;
  std::vector<Activation> acts_;
  double clip_ = 0;  // 0: no clipping
  bool linear_before_reset_ = false;
  bool input_forget_ = false;
  int64_t seq_ = 0, batch_ = 0, input_size_ = 0, hidden_ = 0;
  std::vector<double> x_, w_, r_, bias_, peep_, init_h_, init_c_;
  std::vector<int64_t> seq_lens_;
};

template <Cell kCell>
void recurrent_kernel(KernelContext& ctx) {
  Recurrence(ctx, kCell).run();
}

}  // namespace

void register_rnn_ops(OpRegistry& r) {
  r.add({"", "RNN", 1, 14, infer_cell<Cell::kRnn>, recurrent_kernel<Cell::kRnn>});
  r.add({"", "GRU", 1, 14, infer_cell<Cell::kGru>, recurrent_kernel<Cell::kGru>});
  r.add({"", "LSTM", 1, 14, infer_cell<Cell::kLstm>, recurrent_kernel<Cell::kLstm>});
}

}  // namespace ef
