// TODO(owner of this family): op definitions (inference + reference kernel) for the linalg family.
#include "ops/shape_util.h"

namespace ef {

void register_linalg_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
