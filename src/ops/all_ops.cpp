// The one place every op family is registered (explicit registration: no static initializers).
#include "ops/registry.h"

namespace ef {

void register_elementwise_unary_ops(OpRegistry& r);
void register_elementwise_binary_ops(OpRegistry& r);
void register_activation_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_indexing_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_conv_pool_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_quant_ops(OpRegistry& r);
void register_image_ops(OpRegistry& r);
void register_rnn_ops(OpRegistry& r);
void register_control_flow_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);
void register_quant_add_ops(OpRegistry& r);

void register_all_ops(OpRegistry& r) {
  register_elementwise_unary_ops(r);
  register_elementwise_binary_ops(r);
  register_activation_ops(r);
  register_shape_ops(r);
  register_indexing_ops(r);
  register_reduce_ops(r);
  register_normalization_ops(r);
  register_conv_pool_ops(r);
  register_linalg_ops(r);
  register_quant_ops(r);
  register_image_ops(r);
  register_rnn_ops(r);
  register_control_flow_ops(r);
  register_fused_ops(r);
  register_quant_add_ops(r);
}

}  // namespace ef
