// Output-size rules of sliding windows (Conv, pooling) and of ConvTranspose, shared by op inference and the
// reference kernels so both always agree on pads and output dims. Pure integer arithmetic: no IR dependency.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ef {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// Parses an ONNX auto_pad value; nullopt for an unknown spelling.
std::optional<AutoPad> parse_auto_pad(const std::string& text);

// One spatial axis of a window. Pads may be negative only for ConvTranspose (an explicit output_shape larger
// than the natural result), where they mean "extend the output with positions no input reaches".
struct WindowAxis {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;

  int64_t effective_kernel() const { return (kernel - 1) * dilation + 1; }
};

// Number of window positions along an axis of `in` elements (Conv, MaxPool, AveragePool, LpPool).
// SAME_UPPER/SAME_LOWER choose pads so the output is ceil(in / stride) (extra pad at the end / beginning) and
// VALID uses no pads; the chosen pads are written back into `axis`. With ceil_mode the count rounds up, but a
// last window that would start inside the end padding is dropped (PyTorch's rule, also ONNX Runtime's), so every
// window covers at least one input or begin-pad position. Returns a value < 1 when not even one window fits.
int64_t window_output_size(int64_t in, WindowAxis& axis, AutoPad auto_pad, bool ceil_mode);

// ConvTranspose output size along an axis. `requested` is the output_shape attribute's entry when given: the
// total padding is then derived from it. SAME_* targets in * stride. Derived pads are split with the odd unit
// at the end for SAME_UPPER and at the beginning otherwise, using floor division so that a negative total (output
// larger than the natural result) extends the end. The pads used are written back into `axis`.
int64_t transpose_output_size(int64_t in, WindowAxis& axis, int64_t output_padding, AutoPad auto_pad,
                              std::optional<int64_t> requested);

// Helpers for the reference window loops (conv and pooling kernels).
int64_t dims_product(const std::vector<int64_t>& dims);
std::vector<int64_t> dims_row_major_strides(const std::vector<int64_t>& dims);
// Coordinates of `flat` in a row-major array of shape `dims` (coord must have dims.size() entries).
void dims_unravel(int64_t flat, const std::vector<int64_t>& dims, std::vector<int64_t>& coord);
// For every kernel tap in row-major order over the kernel dims, its offset along each axis (tap_i * dilation_i):
// entry [t * axes.size() + i].
std::vector<int64_t> window_tap_offsets(const std::vector<WindowAxis>& axes);

}  // namespace ef
