// Einsum (opset 12): a general evaluator. The equation is parsed into per-axis labels, the ellipsis expanded to
// NumPy-style right-aligned broadcast labels, and the output computed as a direct sum over every label that is not
// in the output -- one accumulator per output element, the reduction labels iterated in ascending label order.
// Beyond the ONNX text (which asks every ellipsis to span the same number of dims) ellipses broadcast as in NumPy,
// size-1 dims broadcast against a label's other dims, and ellipsis dims left out of an explicit output are summed.
#include <algorithm>
#include <array>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/linalg_family.h"

namespace ef {
namespace {

constexpr int kLetters = 52;  // 'A'..'Z' -> 0..25, 'a'..'z' -> 26..51, so label order is ASCII order
constexpr int kEllipsis = -1;  // marker in a parsed term; expanded into labels kLetters, kLetters + 1, ...

struct Equation {
  std::vector<std::vector<int>> terms;  // one per input: letter ids and at most one kEllipsis
  bool explicit_output = false;
  std::vector<int> output;
};

std::vector<int> parse_term(const std::string& term, const Node& node, const std::string& eq) {
  std::vector<int> labels;
  bool seen_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c >= 'A' && c <= 'Z') {
      labels.push_back(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      labels.push_back(26 + (c - 'a'));
    } else if (c == '.') {
      EF_CHECK(term.compare(i, 3, "...") == 0 && !seen_ellipsis, kInvalidModel,
               "{}: equation '{}': '.' must appear only as one '...' per term", node.label(), eq);
      seen_ellipsis = true;
      labels.push_back(kEllipsis);
      i += 2;
    } else {
      fail(ErrorCode::kInvalidModel,
           fmt::format("{}: equation '{}': unexpected character '{}'", node.label(), eq, std::string(1, c)));
    }
  }
  return labels;
}

Equation parse_equation(const Node& node, size_t num_inputs) {
  std::string eq = node.attr_string("equation", "");
  std::string s;
  for (char c : eq) {
    if (c != ' ') s.push_back(c);
  }
  Equation out;
  std::string lhs = s;
  size_t arrow = s.find("->");
  if (arrow != std::string::npos) {
    lhs = s.substr(0, arrow);
    std::string rhs = s.substr(arrow + 2);
    EF_CHECK(rhs.find_first_of(",->") == std::string::npos, kInvalidModel,
             "{}: equation '{}': the output term must be one term after a single '->'", node.label(), eq);
    out.explicit_output = true;
    out.output = parse_term(rhs, node, eq);
  }
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    out.terms.push_back(parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                                   node, eq));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  EF_CHECK(out.terms.size() == num_inputs, kInvalidModel, "{}: equation '{}' has {} input terms but the node has {} "
           "inputs", node.label(), eq, out.terms.size(), num_inputs);
  if (out.explicit_output) {
    std::array<bool, kLetters> in_lhs{};
    for (const auto& t : out.terms) {
      for (int l : t) {
        if (l != kEllipsis) in_lhs[static_cast<size_t>(l)] = true;
      }
    }
    std::array<bool, kLetters> in_out{};
    for (int l : out.output) {
      if (l == kEllipsis) continue;
      EF_CHECK(in_lhs[static_cast<size_t>(l)] && !in_out[static_cast<size_t>(l)], kInvalidModel,
               "{}: equation '{}': each output label must appear once in the output and in some input", node.label(),
               eq);
      in_out[static_cast<size_t>(l)] = true;
    }
  }
  return out;
}

// The equation bound to input ranks: every axis of every input and of the output carries a concrete label.
struct EinsumPlan {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
  int num_labels = kLetters;
};

EinsumPlan plan_einsum(const Node& node, const std::vector<size_t>& ranks) {
  Equation eq = parse_equation(node, ranks.size());
  EinsumPlan plan;
  std::vector<int64_t> ellipsis_dims(ranks.size(), 0);
  int64_t broadcast_rank = 0;
  for (size_t k = 0; k < ranks.size(); ++k) {
    const auto& t = eq.terms[k];
    bool has_ellipsis = std::count(t.begin(), t.end(), kEllipsis) != 0;
    int64_t letters = static_cast<int64_t>(t.size()) - (has_ellipsis ? 1 : 0);
    int64_t rank = static_cast<int64_t>(ranks[k]);
    EF_CHECK(has_ellipsis ? rank >= letters : rank == letters, kInvalidModel,
             "{}: input {} has rank {} but its equation term names {} dims", node.label(), k, rank, letters);
    ellipsis_dims[k] = has_ellipsis ? rank - letters : 0;
    broadcast_rank = std::max(broadcast_rank, ellipsis_dims[k]);
  }
  plan.num_labels = kLetters + static_cast<int>(broadcast_rank);
  auto expand = [&](const std::vector<int>& term, int64_t n, std::vector<int>& out) {
    for (int l : term) {
      if (l != kEllipsis) {
        out.push_back(l);
        continue;
      }
      for (int64_t j = broadcast_rank - n; j < broadcast_rank; ++j) out.push_back(kLetters + static_cast<int>(j));
    }
  };
  plan.inputs.resize(ranks.size());
  for (size_t k = 0; k < ranks.size(); ++k) expand(eq.terms[k], ellipsis_dims[k], plan.inputs[k]);
  if (eq.explicit_output) {
    expand(eq.output, broadcast_rank, plan.output);
  } else {
    for (int64_t j = 0; j < broadcast_rank; ++j) plan.output.push_back(kLetters + static_cast<int>(j));
    std::array<int, kLetters> count{};
    for (const auto& t : eq.terms) {
      for (int l : t) {
        if (l != kEllipsis) ++count[static_cast<size_t>(l)];
      }
    }
    for (int l = 0; l < kLetters; ++l) {
      if (count[static_cast<size_t>(l)] == 1) plan.output.push_back(l);
    }
  }
  return plan;
}

// The size of every label, merging the dims it labels: equal, or 1 broadcasting against the rest. A label
// repeated within one term (a diagonal) needs equal dims.
std::vector<Dim> label_dims(const Node& node, const EinsumPlan& plan, const std::vector<Dims>& inputs) {
  std::vector<Dim> dims(static_cast<size_t>(plan.num_labels), Dim(1));
  std::vector<bool> seen(dims.size(), false);
  for (size_t k = 0; k < inputs.size(); ++k) {
    for (size_t a = 0; a < inputs[k].size(); ++a) {
      auto l = static_cast<size_t>(plan.inputs[k][a]);
      const Dim& d = inputs[k][a];
      for (size_t b = 0; b < a; ++b) {
        const Dim& other = inputs[k][b];
        EF_CHECK(static_cast<size_t>(plan.inputs[k][b]) != l || !d.known() || !other.known() ||
                     d.value == other.value,
                 kInvalidModel, "{}: input {} repeats a label over dims of sizes {} and {}", node.label(), k,
                 other.value, d.value);
      }
      Dim& cur = dims[l];
      if (!seen[l]) {
        cur = d;
        seen[l] = true;
      } else if (d.known() && cur.known()) {
        EF_CHECK(d.value == cur.value || d.value == 1 || cur.value == 1, kInvalidModel,
                 "{}: a label spans dims of sizes {} and {}", node.label(), cur.value, d.value);
        if (cur.value == 1) cur = d;
      } else if (cur.known() ? cur.value == 1 : d.known() && d.value != 1) {
        cur = d;  // an unknown dim beats a 1 (it may be larger); a known size beats an unknown
      }
    }
  }
  return dims;
}

std::vector<size_t> input_ranks(const InferContext& ctx) {
  std::vector<size_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) ranks.push_back(ctx.input_type(i).rank());
  return ranks;
}

void infer_einsum(InferContext& ctx) {
  EF_CHECK(ctx.num_inputs() >= 1, kInvalidModel, "{}: needs at least one input", ctx.node().label());
  std::vector<Dims> inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const ValueType& t = ctx.input_type(i);
    EF_CHECK(t.dtype == ctx.input_dtype(0), kInvalidModel, "{}: inputs have different element types",
             ctx.node().label());
    if (!t.has_rank()) {
      parse_equation(ctx.node(), ctx.num_inputs());  // still reject a malformed equation early
      ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
      return;
    }
    inputs.push_back(*t.dims);
  }
  EinsumPlan plan = plan_einsum(ctx.node(), input_ranks(ctx));
  std::vector<Dim> dims = label_dims(ctx.node(), plan, inputs);
  Dims out;
  for (int l : plan.output) out.push_back(dims[static_cast<size_t>(l)]);
  ctx.set_output(0, ctx.input_dtype(0), out);
}

// Accumulator: the compute type for floats; for integers an unsigned type so overflow wraps instead of being UB.
template <typename T, bool = std::is_integral_v<T>>
struct EinsumAcc {
  using type = compute_t<T>;
};
template <typename T>
struct EinsumAcc<T, true> {
  using type = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(int)), int, T>>;
};

void einsum_kernel(KernelContext& ctx) {
  size_t n = ctx.num_inputs();
  std::vector<Dims> in_dims;
  std::vector<size_t> ranks;
  for (size_t k = 0; k < n; ++k) {
    in_dims.push_back(dims_of(ctx.input(k).shape()));
    ranks.push_back(ctx.input(k).rank());
  }
  EinsumPlan plan = plan_einsum(ctx.node(), ranks);
  std::vector<Dim> dims = label_dims(ctx.node(), plan, in_dims);
  std::vector<int64_t> size(dims.size());
  for (size_t l = 0; l < dims.size(); ++l) size[l] = dims[l].value;

  // strides[k][l]: how far input k moves when label l steps by one (summed over a diagonal's axes; 0 where a
  // size-1 dim broadcasts).
  std::vector<std::vector<int64_t>> strides(n, std::vector<int64_t>(size.size(), 0));
  std::vector<bool> used(size.size(), false);
  for (size_t k = 0; k < n; ++k) {
    const Shape& shape = ctx.input(k).shape();
    std::vector<int64_t> rm = row_major_strides(shape);
    for (size_t a = 0; a < shape.size(); ++a) {
      auto l = static_cast<size_t>(plan.inputs[k][a]);
      used[l] = true;
      if (shape[a] != 1 || size[l] == 1) strides[k][l] += rm[a];
    }
  }
  std::vector<size_t> out_labels, sum_labels;
  for (int l : plan.output) out_labels.push_back(static_cast<size_t>(l));
  for (size_t l = 0; l < size.size(); ++l) {
    if (used[l] && std::find(out_labels.begin(), out_labels.end(), l) == out_labels.end()) sum_labels.push_back(l);
  }
  int64_t sum_count = 1;
  for (size_t l : sum_labels) sum_count *= size[l];

  Tensor& y = ctx.output(0);
  visit_arith_or_half(ctx.input(0).dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = typename EinsumAcc<T>::type;
    std::vector<const T*> ptr(n);
    for (size_t k = 0; k < n; ++k) {
      EF_CHECK(ctx.input(k).dtype() == ctx.input(0).dtype(), kInvalidModel, "{}: inputs have different element types",
               ctx.node().label());
      ptr[k] = ctx.input(k).template data<T>();
    }
    T* py = y.data<T>();
    std::vector<int64_t> idx(size.size(), 0);
    std::vector<int64_t> base(n), off(n);
    for (int64_t o = 0; o < y.numel(); ++o) {
      int64_t rest = o;  // decompose the output index into its labels, last label fastest
      for (size_t j = out_labels.size(); j-- > 0;) {
        idx[out_labels[j]] = rest % size[out_labels[j]];
        rest /= size[out_labels[j]];
      }
      for (size_t k = 0; k < n; ++k) {
        base[k] = 0;
        for (size_t l : out_labels) base[k] += idx[l] * strides[k][l];
      }
      Acc acc = 0;
      for (int64_t s = 0; s < sum_count; ++s) {
        int64_t r = s;
        for (size_t j = sum_labels.size(); j-- > 0;) {
          idx[sum_labels[j]] = r % size[sum_labels[j]];
          r /= size[sum_labels[j]];
        }
        Acc prod = 1;
        for (size_t k = 0; k < n; ++k) {
          int64_t p = base[k];
          for (size_t l : sum_labels) p += idx[l] * strides[k][l];
          prod = static_cast<Acc>(prod * static_cast<Acc>(static_cast<compute_t<T>>(ptr[k][p])));
        }
        acc = static_cast<Acc>(acc + prod);
      }
      py[o] = static_cast<T>(static_cast<compute_t<T>>(acc));
    }
  });
}

}  // namespace

void register_einsum_op(OpRegistry& r) { r.add({"", "Einsum", 12, 12, infer_einsum, einsum_kernel}); }

}  // namespace ef
