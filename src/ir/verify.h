// Structural checks on a Graph: the invariants every stage after import relies on. The optimizer runs this after
// each pass so a faulty rewrite is reported by name instead of surfacing later as a wrong answer or a crash.
#pragma once
#include "ir/graph.h"

namespace ef {

// Throws ef::Error (kInvalidModel) naming the first violation:
// - every value index in nodes, inputs and outputs is in range, and value names are unique and non-empty;
// - every node input is an initializer, a graph input, an outer-scope value or the output of an earlier node;
// - no value has two producers (two nodes, or a node and an initializer / graph input);
// - Value::producer agrees with the node that writes the value;
// - every graph output is defined (produced, initializer, input or outer-scope);
// - subgraphs (If/Loop/Scan bodies) satisfy the same rules, with captures marked is_outer.
// Values nobody references (left behind by rewrites) are allowed.
void verify_graph(const Graph& graph);

}  // namespace ef
