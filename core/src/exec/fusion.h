#pragma once
// Planning-time operator fusion: Conv [-> BatchNormalization] [-> Add] [-> Relu [-> MaxPool]]
// chains whose intermediate values nobody else reads run as one kernel (makeFusedConv).
// planFusion() only marks the chains; the planner builds the kernels.
#include "bonsai/onnx_exec.h"
#include "exec/onnx_exec_ops.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace bonsai::exec {

// Per graph node: whether an earlier node absorbs it, and for a chain's Conv its epilogue.
struct Fusion {
    bool absorbed = false; // folded into an earlier node
    int last = -1;         // for a Conv head: the last node folded into it
    ConvEpilogue epilogue;
    int bnNode = -1;       // the folded BatchNormalization, if any
    std::string addOther;  // the Add's other operand, if an Add is folded
};

// Finds the chains in g; values in graphOutputs or options.keep are never fused away.
std::vector<Fusion> planFusion(const onnx::GraphProto& g, const ExecOptions& options,
                               const std::unordered_set<std::string>& graphOutputs);

} // namespace bonsai::exec
