// Registration entry points of the image family's parts; register_image_ops (image.cpp) calls them all.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/dispatch.h"
#include "ops/registry.h"

namespace ef {

void register_resize_ops(OpRegistry& r);     // resize.cpp: Resize, Upsample
void register_detection_ops(OpRegistry& r);  // detection.cpp: NonMaxSuppression, RoiAlign
void register_signal_ops(OpRegistry& r);     // signal.cpp: DFT, STFT, window functions, MelWeightMatrix

// Stores an interpolated value: integer outputs (uint8 images above all) round to nearest and saturate rather
// than truncate and wrap; NaN becomes 0 for them.
template <typename T>
T store_interpolated(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    double hi = static_cast<double>(std::numeric_limits<T>::max());
    return static_cast<T>(std::clamp(std::round(v), lo, hi));
  } else {
    return convert_value<T>(v);
  }
}

}  // namespace ef
