// TODO(owner of this family): op definitions (inference + reference kernel) for the indexing family.
#include "ops/shape_util.h"

namespace ef {

void register_indexing_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
