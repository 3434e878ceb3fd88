#pragma once
// The executor's state shared by its planning (onnx_exec_plan.cpp) and its running
// (onnx_exec.cpp).
#include "bonsai/onnx_exec.h"

#include "exec/onnx_exec_ops.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bonsai {

struct GraphInput {
    std::string name;
    Value::Type type = Value::Type::Float;
    bool hasShape = false;
    std::vector<int64_t> shape;
    std::string typeName;
};

struct OnnxExecutor::Impl {
    std::vector<exec::Kernel> kernels;
    std::vector<GraphInput> inputs;
    std::unordered_map<std::string, size_t> inputIndex;
    std::unordered_set<std::string> outputSet;
    std::unordered_map<std::string, size_t> firstUse, lastUse, producer;
    std::unordered_map<std::string, Value> overrides;
    mutable std::mutex weightMutex;
    mutable std::unordered_map<int, std::unique_ptr<Value>> weights;
    std::vector<std::string> unsupported; // "Op: reason"
};

// A number for Value::weightVersion that no weight had before.
uint64_t newWeightVersion();

// A model tensor as a Value: integer types widen to int64, float types convert to float.
Value tensorValue(const Model& model, int tensor);

// Plans the graph into `nodes` / impl; unsupported ops are collected in impl.unsupported.
void planGraph(const Model& model, const ExecOptions& options, std::vector<ExecNode>& nodes,
               OnnxExecutor::Impl& impl, std::vector<std::string>& inputNames,
               std::vector<std::string>& outputNames, const std::function<const Value&(int)>& weight);

} // namespace bonsai
