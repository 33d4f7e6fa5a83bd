// Calibration ranges as JSON (`edgeforge quantize --save-ranges / --ranges`), so one calibration can serve many
// quantization variants. The file also records the input shapes the model was prepared with: the same shapes give
// the same optimized graph, hence the same tensor names.
//   {"format": "edgeforge-ranges", "version": 1, "method": "entropy",
//    "input_shapes": {"input": [1,3,224,224]}, "tensors": {"conv1_out": {"min": -1.5, "max": 3.25}, ...}}
#pragma once
#include <map>
#include <string>

#include "edgeforge/tensor.h"
#include "quant/qdq_rewrite.h"

namespace ef {

struct RangesFile {
  std::string method;
  std::map<std::string, Shape> input_shapes;
  RangeMap ranges;
};

void save_ranges(const RangesFile& file, const std::string& path);
// Throws kInvalidArgument naming the file and entry for malformed content, kIo when unreadable.
RangesFile load_ranges(const std::string& path);

}  // namespace ef
