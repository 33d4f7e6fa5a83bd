// TODO(owner of this family): op definitions (inference + reference kernel) for the normalization family.
#include "ops/shape_util.h"

namespace ef {

void register_normalization_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
