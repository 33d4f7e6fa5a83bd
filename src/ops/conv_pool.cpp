// TODO(owner of this family): op definitions (inference + reference kernel) for the conv_pool family.
#include "ops/shape_util.h"

namespace ef {

void register_conv_pool_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
