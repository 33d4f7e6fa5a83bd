// Shrinking a quantized model's file without changing what it computes, in ways every runtime reads as standard
// QDQ: constants of one repeated value made by
// ConstantOfShape, identical scalar scales and zero points stored once, bias scales as products of the input and
// weight scales, Conv attributes equal to ONNX's defaults left out, and names the original model does not have
// shortened (original tensor names stay, so `compare --per-layer` still matches values; `strip_names` shortens them
// too, all but the graph inputs' and outputs').
#pragma once
#include "ir/graph.h"

namespace ef {

void compact_quantized_model(Model& model, const Graph& original, bool strip_names = false);

}  // namespace ef
