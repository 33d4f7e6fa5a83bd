// TODO(owner of this family): op definitions (inference + reference kernel) for the rnn family.
#include "ops/shape_util.h"

namespace ef {

void register_rnn_ops(OpRegistry& r) { (void)r; }

}  // namespace ef
