// Signal-processing ops of opset 17: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix.
// Complex values are stored as a trailing dimension of 2 (real, imaginary). The transforms are plain O(n^2)
// DFTs in double precision: slow but exact enough to serve as the oracle for faster kernels.
#include <cmath>
#include <complex>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/image_family.h"
#include "ops/shape_util.h"

namespace ef {
namespace {

using Complex = std::complex<double>;

// The scalar value of input i; `what` names it in errors.
int64_t scalar_int(const Tensor& t, const Node& node, const char* what) {
  EF_CHECK(t.numel() == 1, kInvalidArgument, "{}: {} must be a scalar, got shape {}", node.label(), what,
           shape_str(t.shape()));
  return t.value_as_int(0);
}

// Transforms `in` (length n, already zero-padded/truncated) into `out`; `bins` outputs are produced.
void dft_1d(const std::vector<Complex>& in, std::vector<Complex>& out, int64_t bins, bool inverse) {
  auto n = static_cast<int64_t>(in.size());
  double sign = inverse ? 1.0 : -1.0;
  out.assign(static_cast<size_t>(bins), Complex(0, 0));
  for (int64_t k = 0; k < bins; ++k) {
    Complex sum(0, 0);
    for (int64_t j = 0; j < n; ++j) {
      // Reducing k*j mod n keeps the angle small, so twiddles stay accurate for long transforms.
      double angle = sign * 2 * std::numbers::pi * static_cast<double>((k * j) % n) / static_cast<double>(n);
      sum += in[static_cast<size_t>(j)] * Complex(std::cos(angle), std::sin(angle));
    }
    out[static_cast<size_t>(k)] = inverse ? sum / static_cast<double>(n) : sum;
  }
}

// ---- DFT ----

struct DftParams {
  int64_t axis;
  bool inverse, onesided;
};

DftParams parse_dft(const Node& node, size_t rank) {
  EF_CHECK(rank >= 2, kInvalidModel, "{}: input needs rank >= 2 ([batch, ..., 1 or 2]), got {}", node.label(), rank);
  DftParams p;
  // The last dim holds (real, imaginary) and is not a signal axis.
  p.axis = normalize_axis(node.attr_int("axis", 1), static_cast<int64_t>(rank) - 1, node);
  p.inverse = node.attr_int("inverse", 0) != 0;
  p.onesided = node.attr_int("onesided", 0) != 0;
  EF_CHECK(!(p.inverse && p.onesided), kUnsupported, "{}: inverse=1 together with onesided=1", node.label());
  return p;
}

void infer_dft(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueType& x = ctx.input_type(0);
  if (!x.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
    return;
  }
  DftParams p = parse_dft(node, x.rank());
  Dims out = *x.dims;
  const Dim& last = out.back();
  EF_CHECK(!last.known() || last.value == 1 || last.value == 2, kInvalidModel,
           "{}: last input dim must be 1 (real) or 2 (complex), got {}", node.label(), last.value);
  EF_CHECK(!(p.onesided && last.known() && last.value == 2), kInvalidModel,
           "{}: onesided output needs a real input", node.label());
  out.back() = Dim(2);
  Dim n = out[p.axis];
  if (ctx.has_input(1)) {
    const Tensor* len = ctx.input_value(1);
    n = len ? Dim(scalar_int(*len, node, "dft_length")) : Dim();
    EF_CHECK(!n.known() || n.value > 0, kInvalidArgument, "{}: dft_length must be positive, got {}", node.label(),
             n.value);
  }
  out[p.axis] = p.onesided ? (n.known() ? Dim(n.value / 2 + 1) : Dim()) : n;
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void dft_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  DftParams p = parse_dft(node, x.rank());
  int64_t n = ctx.has_input(1) ? scalar_int(ctx.input(1), node, "dft_length") : x.dim(p.axis);
  int64_t in_len = x.dim(p.axis), bins = y.dim(p.axis), in_parts = x.dim(x.rank() - 1);
  // View both tensors as [outer, axis, inner, parts].
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < p.axis; ++d) outer *= x.dim(d);
  for (size_t d = p.axis + 1; d + 1 < x.rank(); ++d) inner *= x.dim(d);
  visit_arith_or_half(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_floating_point_v<compute_t<T>>) {
      fail(ErrorCode::kUnsupported, fmt::format("{}: element type {} (float types only)", node.label(),
                                                dtype_name(x.dtype())));
    } else {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      std::vector<Complex> line(static_cast<size_t>(n)), spectrum;
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            if (j >= in_len) {
              line[j] = Complex(0, 0);
              continue;
            }
            const T* e = px + ((o * in_len + j) * inner + i) * in_parts;
            line[j] = Complex(to_double(e[0]), in_parts == 2 ? to_double(e[1]) : 0.0);
          }
          dft_1d(line, spectrum, bins, p.inverse);
          for (int64_t k = 0; k < bins; ++k) {
            T* e = py + ((o * bins + k) * inner + i) * 2;
            e[0] = convert_value<T>(spectrum[k].real());
            e[1] = convert_value<T>(spectrum[k].imag());
          }
        }
      }
    }
  });
}

// ---- STFT ----

// Frame length from frame_length or else the window's length; nullopt when not known yet.
std::optional<int64_t> stft_frame_length(const Node& node, const std::optional<int64_t>& frame_length,
                                         const std::optional<int64_t>& window_length) {
  if (frame_length && window_length) {
    EF_CHECK(*frame_length == *window_length, kInvalidArgument, "{}: frame_length {} differs from window length {}",
             node.label(), *frame_length, *window_length);
  }
  std::optional<int64_t> len = frame_length ? frame_length : window_length;
  if (len) EF_CHECK(*len > 0, kInvalidArgument, "{}: frame length must be positive, got {}", node.label(), *len);
  return len;
}

void infer_stft(InferContext& ctx) {
  const Node& node = ctx.node();
  bool onesided = node.attr_int("onesided", 1) != 0;
  const ValueType& signal = ctx.input_type(0);
  EF_CHECK(!signal.has_rank() || signal.rank() == 3, kInvalidModel,
           "{}: signal must be [batch, length, 1 or 2], got {}", node.label(), signal.str());
  Dims out{Dim(), Dim(), Dim(), Dim(2)};
  std::optional<int64_t> frame_length, window_length, step;
  bool length_pending = false;
  if (ctx.has_input(3)) {
    const Tensor* v = ctx.input_value(3);
    if (v) frame_length = scalar_int(*v, node, "frame_length"); else length_pending = true;
  }
  if (ctx.has_input(2)) {
    const ValueType& w = ctx.input_type(2);
    EF_CHECK(!w.has_rank() || w.rank() == 1, kInvalidModel, "{}: window must be 1-D, got {}", node.label(), w.str());
    if (w.has_rank() && (*w.dims)[0].known()) window_length = (*w.dims)[0].value;
  }
  EF_CHECK(ctx.has_input(2) || ctx.has_input(3), kInvalidModel, "{}: needs a window or a frame_length", node.label());
  if (const Tensor* v = ctx.input_value(1)) step = scalar_int(*v, node, "frame_step");
  if (step) EF_CHECK(*step > 0, kInvalidArgument, "{}: frame_step must be positive, got {}", node.label(), *step);
  // -1 while the frame length is not known yet.
  int64_t len = length_pending ? -1 : stft_frame_length(node, frame_length, window_length).value_or(-1);
  if (signal.has_rank()) {
    const Dims& s = *signal.dims;
    out[0] = s[0];
    EF_CHECK(!s[2].known() || s[2].value == 1 || s[2].value == 2, kInvalidModel,
             "{}: last signal dim must be 1 (real) or 2 (complex), got {}", node.label(), s[2].value);
    EF_CHECK(!(onesided && s[2].known() && s[2].value == 2), kInvalidModel,
             "{}: onesided output needs a real signal", node.label());
    if (s[1].known() && len > 0 && step) {
      EF_CHECK(s[1].value >= len, kInvalidArgument, "{}: signal length {} is shorter than the frame length {}",
               node.label(), s[1].value, len);
      out[1] = (s[1].value - len) / *step + 1;
    }
  }
  if (len > 0) out[2] = onesided ? len / 2 + 1 : len;
  ctx.set_output(0, ctx.input_dtype(0), out);
}

void stft_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& signal = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t step = scalar_int(ctx.input(1), node, "frame_step");
  const Tensor* window = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  std::optional<int64_t> frame_length;
  if (ctx.has_input(3)) frame_length = scalar_int(ctx.input(3), node, "frame_length");
  std::optional<int64_t> window_length;
  if (window) window_length = window->dim(0);
  int64_t len = *stft_frame_length(node, frame_length, window_length);
  int64_t batches = y.dim(0), frames = y.dim(1), bins = y.dim(2), parts = signal.dim(2);
  int64_t signal_len = signal.dim(1);
  visit_arith_or_half(signal.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_floating_point_v<compute_t<T>>) {
      fail(ErrorCode::kUnsupported, fmt::format("{}: element type {} (float types only)", node.label(),
                                                dtype_name(signal.dtype())));
    } else {
      const T* px = signal.data<T>();
      T* py = y.data<T>();
      std::vector<Complex> frame(static_cast<size_t>(len)), spectrum;
      for (int64_t b = 0; b < batches; ++b) {
        for (int64_t f = 0; f < frames; ++f) {
          for (int64_t j = 0; j < len; ++j) {
            int64_t t = f * step + j;
            EF_CHECK(t < signal_len, kInternal, "{}: frame runs past the signal", node.label());
            const T* e = px + (b * signal_len + t) * parts;
            double w = window ? window->value_as_double(j) : 1.0;
            frame[j] = Complex(to_double(e[0]), parts == 2 ? to_double(e[1]) : 0.0) * w;
          }
          dft_1d(frame, spectrum, bins, false);
          for (int64_t k = 0; k < bins; ++k) {
            T* e = py + ((b * frames + f) * bins + k) * 2;
            e[0] = convert_value<T>(spectrum[k].real());
            e[1] = convert_value<T>(spectrum[k].imag());
          }
        }
      }
    }
  });
}

// ---- Window functions and MelWeightMatrix ----

DType output_datatype(const Node& node) {
  auto t = static_cast<DType>(node.attr_int("output_datatype", 1));
  EF_CHECK(dtype_is_float(t) || dtype_is_integer(t), kInvalidModel, "{}: output_datatype {} is not a numeric type",
           node.label(), static_cast<int>(t));
  return t;
}

void infer_window(InferContext& ctx) {
  const Node& node = ctx.node();
  DType dtype = output_datatype(node);
  const Tensor* size = ctx.input_value(0);
  if (!size) {
    ctx.set_output(0, dtype, Dims{Dim()});
    return;
  }
  int64_t n = scalar_int(*size, node, "size");
  EF_CHECK(n >= 0, kInvalidArgument, "{}: window size must be >= 0, got {}", node.label(), n);
  ctx.set_output(0, dtype, Shape{n});
}

// Generalized cosine window sum_k (-1)^k a_k cos(2 pi k n / N).
template <int K>
void cosine_window(KernelContext& ctx, const double (&coeffs)[K]) {
  Tensor& y = ctx.output(0);
  int64_t size = y.dim(0);
  bool periodic = ctx.node().attr_int("periodic", 1) != 0;
  // A periodic window is the symmetric window of length size + 1 without its last point.
  int64_t denom = periodic ? size : size - 1;
  visit_arith_or_half(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (int64_t i = 0; i < size; ++i) {
      double v = 0;
      if (denom == 0) {
        v = 1;  // one-point symmetric window
      } else {
        for (int k = 0; k < K; ++k) {
          double c = std::cos(2 * std::numbers::pi * k * static_cast<double>(i) / static_cast<double>(denom));
          v += (k % 2 == 0 ? 1 : -1) * coeffs[k] * c;
        }
      }
      py[i] = convert_value<T>(v);
    }
  });
}

void hann_kernel(KernelContext& ctx) { cosine_window<2>(ctx, {0.5, 0.5}); }
void hamming_kernel(KernelContext& ctx) { cosine_window<2>(ctx, {25.0 / 46.0, 21.0 / 46.0}); }
void blackman_kernel(KernelContext& ctx) { cosine_window<3>(ctx, {0.42, 0.5, 0.08}); }

void infer_mel(InferContext& ctx) {
  const Node& node = ctx.node();
  DType dtype = output_datatype(node);
  const Tensor* mel_bins = ctx.input_value(0);
  const Tensor* dft_length = ctx.input_value(1);
  Dims out{Dim(), Dim()};
  if (dft_length) {
    int64_t n = scalar_int(*dft_length, node, "dft_length");
    EF_CHECK(n > 0, kInvalidArgument, "{}: dft_length must be positive, got {}", node.label(), n);
    out[0] = n / 2 + 1;
  }
  if (mel_bins) {
    int64_t m = scalar_int(*mel_bins, node, "num_mel_bins");
    EF_CHECK(m > 0, kInvalidArgument, "{}: num_mel_bins must be positive, got {}", node.label(), m);
    out[1] = m;
  }
  ctx.set_output(0, dtype, out);
}

double hz_to_mel(double hz) { return 2595 * std::log10(1 + hz / 700); }
double mel_to_hz(double mel) { return 700 * (std::pow(10.0, mel / 2595) - 1); }

void mel_kernel(KernelContext& ctx) {
  const Node& node = ctx.node();
  Tensor& y = ctx.output(0);
  int64_t mel_bins = y.dim(1), spectrogram_bins = y.dim(0);
  int64_t dft_length = scalar_int(ctx.input(1), node, "dft_length");
  int64_t sample_rate = scalar_int(ctx.input(2), node, "sample_rate");
  EF_CHECK(sample_rate > 0, kInvalidArgument, "{}: sample_rate must be positive, got {}", node.label(), sample_rate);
  EF_CHECK(ctx.input(3).numel() == 1 && ctx.input(4).numel() == 1, kInvalidArgument,
           "{}: lower_edge_hertz and upper_edge_hertz must be scalars", node.label());
  double lower = ctx.input(3).value_as_double(0), upper = ctx.input(4).value_as_double(0);
  EF_CHECK(lower >= 0 && lower <= upper && std::isfinite(upper), kInvalidArgument,
           "{}: need 0 <= lower_edge_hertz ({}) <= upper_edge_hertz ({}) < infinity",
           node.label(), lower, upper);
  // Band edges equally spaced on the mel scale, mapped to DFT bins. The step divides by mel_bins + 2, as ONNX's
  // reference and ONNX Runtime do.
  double low_mel = hz_to_mel(lower);
  double step = (hz_to_mel(upper) - low_mel) / static_cast<double>(mel_bins + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mel_bins + 2));
  for (int64_t i = 0; i < mel_bins + 2; ++i) {
    double hz = mel_to_hz(static_cast<double>(i) * step + low_mel);
    double bin = std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate));
    edge[i] = static_cast<int64_t>(std::min(bin, 1e15));
  }
  std::vector<double> w(static_cast<size_t>(spectrogram_bins * mel_bins), 0.0);
  // Triangle rows past the last spectrogram bin (upper edge above Nyquist) fall off the matrix.
  int64_t last_row = spectrogram_bins - 1;
  for (int64_t i = 0; i < mel_bins; ++i) {
    int64_t lo = edge[i], center = edge[i + 1], hi = edge[i + 2];
    if (center == lo) {
      if (center <= last_row) w[center * mel_bins + i] = 1;
    } else {
      for (int64_t j = lo; j <= std::min(center, last_row); ++j) {
        w[j * mel_bins + i] = static_cast<double>(j - lo) / static_cast<double>(center - lo);
      }
    }
    for (int64_t j = center; j < std::min(hi, last_row + 1); ++j) {
      w[j * mel_bins + i] = static_cast<double>(hi - j) / static_cast<double>(hi - center);
    }
  }
  visit_arith_or_half(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    for (size_t i = 0; i < w.size(); ++i) py[i] = convert_value<T>(w[i]);
  });
}

}  // namespace

void register_signal_ops(OpRegistry& r) {
  r.add({"", "DFT", 17, 17, infer_dft, dft_kernel});
  r.add({"", "STFT", 17, 17, infer_stft, stft_kernel});
  r.add({"", "HannWindow", 17, 17, infer_window, hann_kernel});
  r.add({"", "HammingWindow", 17, 17, infer_window, hamming_kernel});
  r.add({"", "BlackmanWindow", 17, 17, infer_window, blackman_kernel});
  r.add({"", "MelWeightMatrix", 17, 17, infer_mel, mel_kernel});
}

}  // namespace ef
