"""Tags non-passing conformance cases that are outside the foundation's scope (training ops, string ops,
Sequence/Optional types, random ops), so reports can tell "not yet" from "not in scope". Reads a raw expectation file
(name status reason) and prints it with an 'out-of-scope(<why>)' tag in front of the reason where it applies."""
import os
import sys

import onnx

DATA = "/usr/share/libonnx-testdata/data"
TRAINING = {"Adagrad", "Adam", "Momentum", "Gradient"}
STRING_OPS = {"StringNormalizer", "TfIdfVectorizer", "RegexFullMatch", "StringConcat", "StringSplit"}
SEQUENCE_OPS = {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
                "SequenceLength", "SequenceMap", "SplitToSequence", "ConcatFromSequence", "Optional",
                "OptionalGetElement", "OptionalHasElement"}
RANDOM_OPS = {"Bernoulli", "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike", "Multinomial"}


def all_ops(graph):
    for n in graph.node:
        yield n.op_type
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_ops(a.g)
            for g in a.graphs:
                yield from all_ops(g)


def non_tensor_io(graph):
    for v in list(graph.input) + list(graph.output):
        if v.type.WhichOneof("value") not in (None, "tensor_type"):
            return True
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            return True
    return False


def scope_reason(name):
    model = onnx.load(os.path.join(DATA, name, "model.onnx"))
    ops = set(all_ops(model.graph))
    if ops & TRAINING:
        return "training"
    if ops & STRING_OPS:
        return "string"
    if ops & SEQUENCE_OPS or non_tensor_io(model.graph):
        return "sequence/optional/string types"
    if ops & RANDOM_OPS:
        return "random"
    return None


def main(path):
    for line in open(path):
        if line.startswith("#") or not line.strip():
            print(line, end="")
            continue
        parts = line.rstrip("\n").split(" ", 2)
        name, status = parts[0], parts[1]
        reason = parts[2] if len(parts) > 2 else ""
        if status != "pass":
            # Dropout in training mode draws a random mask: nothing deterministic to compare against.
            why = "random" if "random dropout" in reason else scope_reason(name)
            if why and not reason.startswith("out-of-scope"):
                reason = f"out-of-scope({why}) {reason}"
        print(" ".join(p for p in (name, status, reason) if p))


if __name__ == "__main__":
    main(sys.argv[1])
