#!/usr/bin/python3
"""Turns a QDQ model back into a float one with the same (dequantized) weights, for FP32-vs-INT8 timing where only
the QDQ file is at hand (the lent device machine: the FP32 and INT8 files together exceed what it receives).
DequantizeLinear of initializers becomes float initializers; activation QuantizeLinear -> DequantizeLinear pairs
are bypassed, with a Relu where the quantizer's zero point at the type minimum had absorbed one.

Usage: bench/qdq_to_float.py QDQ.onnx FLOAT.onnx
"""
import sys
import numpy as np
import onnx
from onnx import numpy_helper, helper

m = onnx.load(sys.argv[1])
g = m.graph
inits = {i.name: i for i in g.initializer}
producer = {o: n for n in g.node for o in n.output}


def arr(name):
    # The quantizer writes a bias scale as Mul(input scale, weight scale): fold such products of initializers.
    if name in inits:
        return numpy_helper.to_array(inits[name])
    n = producer[name]
    assert n.op_type == "Mul", f"{name}: expected an initializer or a Mul of initializers, got {n.op_type}"
    return arr(n.input[0]) * arr(n.input[1])


rename, keep, new_inits = {}, [], []
outputs = {o.name for o in g.output}
relus = set()
for n in g.node:
    if n.op_type == "DequantizeLinear" and n.input[0] in inits:  # a constant: fold to float
        q = arr(n.input[0]).astype(np.float32)
        s = arr(n.input[1]).astype(np.float32)
        z = arr(n.input[2]).astype(np.float32) if len(n.input) > 2 and n.input[2] else np.zeros_like(s)
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
        if s.ndim == 1 and s.size > 1:
            shape = [1] * q.ndim
            shape[axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        new_inits.append(numpy_helper.from_array((q - z) * s, n.output[0]))
        continue
    if (n.op_type == "DequantizeLinear" and n.input[0] in producer and n.output[0] not in outputs
            and producer[n.input[0]].op_type == "QuantizeLinear"):
        qn = producer[n.input[0]]
        src = qn.input[0]
        # A quantizer whose zero point is the type's minimum also applied a Relu (fused away by the quantizer).
        zp = arr(qn.input[2]) if len(qn.input) > 2 and qn.input[2] in inits else None
        if zp is not None and zp.size == 1 and int(zp.reshape(-1)[0]) == int(np.iinfo(zp.dtype).min):
            relu = src + "_relu"
            if relu not in relus:
                relus.add(relu)
                keep.append(helper.make_node("Relu", [src], [relu]))
            src = relu
        rename[n.output[0]] = src
        continue
    keep.append(n)
used = set()
for n in keep:
    for i, name in enumerate(n.input):
        while name in rename:
            name = rename[name]
        n.input[i] = name
        used.add(name)
keep = [n for n in keep if n.op_type != "QuantizeLinear" or any(o in used for o in n.output)]
del g.node[:]
g.node.extend(keep)
old = [i for i in g.initializer if i.name in used]
del g.initializer[:]
g.initializer.extend(old + new_inits)
onnx.save(m, sys.argv[2])
