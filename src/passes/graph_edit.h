// Small graph-editing primitives the passes share, so each pass states only its rewrite rule and all of them
// keep Value::producer, graph outputs and subgraph captures consistent the same way.
#pragma once
#include <functional>
#include <vector>

#include "ir/graph.h"

namespace ef {

// Value::producer recomputed from the node list (after nodes were erased or outputs rewired).
void refresh_producers(Graph& graph);

// Per value: captured by name by some node's subgraph (at any depth). Such values must keep their name and their
// definition: the subgraph resolves them by name at run time, invisible to index-based rewiring.
std::vector<bool> captured_mask(const Graph& graph);
std::vector<bool> graph_output_mask(const Graph& graph);
// Per value: number of node inputs, graph outputs and subgraph captures reading it.
std::vector<int> reader_counts(const Graph& graph);

bool has_subgraph(const Node& node);
// Ops whose result differs run to run: never folded or merged.
bool is_random_op(const Node& node);

// Makes every node input reading `from` read `to` instead (graph outputs are not touched).
void replace_uses(Graph& graph, int from, int to);

// Removes a single-input pass-through node (Identity, same-type Cast, ...) whose output `out` equals its input
// `in`: consumers read `in` directly. When `out` is a graph output, the node producing `in` is made to write `out`
// instead, so the output name survives. can_bypass() says whether that is possible: not when `out` is a graph
// output and `in` is a graph input, initializer or another graph output, nor when a subgraph captures either name.
// bypass_node() throws kInternal where can_bypass() is false. The node is only marked in `removed`; call
// erase_nodes() at the end of the pass.
bool can_bypass(const Graph& graph, int in, int out, const std::vector<bool>& removed);
void bypass_node(Graph& graph, size_t node_index, int in, int out, std::vector<bool>& removed);

// Erases the nodes marked in `removed` (keeping topological order) and refreshes producers.
void erase_nodes(Graph& graph, const std::vector<bool>& removed);
// The usual end of a fusion pass: erases the marked nodes when `rewrites` > 0 and returns `rewrites`.
inline int finish_rewrites(Graph& graph, const std::vector<bool>& removed, int rewrites) {
  if (rewrites > 0) erase_nodes(graph, removed);
  return rewrites;
}

class PassContext;
// Removes every node for which `returns_input0(node)` holds (it returns its first input unchanged as its only
// output) wherever can_bypass() allows, within the context's rewrite budget. Returns the number removed.
int bypass_nodes_where(Graph& graph, PassContext& ctx, const std::function<bool(const Node&)>& returns_input0);

// Drops values no node, graph input/output or subgraph capture references and that hold no initializer,
// renumbering the rest. Keeps exported models and value tables free of rewrite leftovers.
void compact_values(Graph& graph);

}  // namespace ef
