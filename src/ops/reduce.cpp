// TODO(owner of this family): op definitions (inference + reference kernel) for the reduce family.
#include "ops/shape_util.h"

namespace ef {

void register_reduce_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
