// TODO(owner of this family): op definitions (inference + reference kernel) for the control_flow family.
#include "ops/shape_util.h"

namespace ef {

void register_control_flow_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
