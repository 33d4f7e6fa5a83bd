// Row bands between a producer and the window kernel that consumes its output (conv_max_pool.h: stem conv then
// MaxPool; pointwise_depthwise.h: 1x1 conv then depthwise conv): the consumer's output rows are walked in sub-bands,
// the producer computes the input rows each sub-band's windows read into a band buffer ([planes][rows][width]),
// keeping the rows the previous sub-band already holds, and the consumer runs over the buffer as an input of its
// own. Header-only; depends on conv_params.h and the standard library.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/conv_params.h"

namespace ef::cpu {

// Input rows [first, last) that the windows of output rows [o0, o1) of p read, clipped to [0, p.H).
struct RowRange {
  int64_t first, last;
};
inline RowRange window_rows(const Conv2dParams& p, int64_t o0, int64_t o1) {
  const int64_t extent = (p.kh - 1) * p.dilation_h + 1;
  const int64_t first = std::clamp<int64_t>(o0 * p.stride_h - p.pad_top, 0, p.H);
  const int64_t last = std::clamp<int64_t>((o1 - 1) * p.stride_h - p.pad_top + extent, first, p.H);
  return {first, last};
}

// Output rows per sub-band and the input rows a band buffer holds at most, for windows p whose input rows take
// row_bytes each, within band_bytes: (sub_rows - 1) stride + extent rows must fit, and a sub-band has at least one
// output row whatever the size.
struct BandSize {
  int64_t sub_rows, band_rows;
};
inline BandSize band_size(const Conv2dParams& p, int64_t row_bytes, int64_t band_bytes) {
  const int64_t extent = (p.kh - 1) * p.dilation_h + 1;
  const int64_t fit = std::max<int64_t>(1, band_bytes / std::max<int64_t>(1, row_bytes));
  const int64_t sub_rows = std::max<int64_t>(1, (fit - extent) / p.stride_h + 1);
  return {sub_rows, std::min(p.H, (sub_rows - 1) * p.stride_h + extent)};
}

// Moves the rows that `rows` shares with the rows [held0, held1) the buffer holds to the front of each of its
// `planes` planes (plane_stride floats apart, rows `width` floats long); returns how many rows that is. The
// producer then computes rows [rows.first + kept, rows.last) after them.
inline int64_t keep_shared_rows(RowRange rows, int64_t held0, int64_t held1, float* buf, int64_t planes,
                                int64_t plane_stride, int64_t width) {
  const int64_t keep0 = std::max(rows.first, held0), keep1 = std::min(rows.last, held1);
  const int64_t kept = std::max<int64_t>(0, keep1 - keep0);
  if (kept > 0 && keep0 > held0) {
    for (int64_t m = 0; m < planes; ++m) {
      float* plane = buf + m * plane_stride;
      std::memmove(plane, plane + (keep0 - held0) * width, static_cast<size_t>(kept * width) * sizeof(float));
    }
  }
  return kept;
}

// p's windows for output rows [o0, o1) over the band buffer holding input rows `rows` (window_rows(p, o0, o1)):
// rows.first is the band's row 0, so the windows start pad_top rows above it, and bottom padding covers what the
// band lacks below.
inline Conv2dParams band_window(const Conv2dParams& p, RowRange rows, int64_t o0, int64_t o1) {
  Conv2dParams b = p;
  b.H = rows.last - rows.first;
  b.OH = o1 - o0;
  b.pad_top = rows.first - (o0 * p.stride_h - p.pad_top);
  b.pad_bottom = std::max<int64_t>(0, (b.OH - 1) * b.stride_h + (b.kh - 1) * b.dilation_h + 1 - b.pad_top - b.H);
  return b;
}

}  // namespace ef::cpu
