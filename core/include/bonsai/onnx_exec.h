#pragma once
// ONNX inference engine: executes the main graph of a Model read by readOnnx() in FP32.
//
// Values are float32 tensors, int64 tensors (shapes, indices; every integer type of the graph
// is computed as int64) or bool tensors. Conv, Gemm, MatMul and pooling run through oneDNN
// (exec/dnnl_ops.h), with Eigen kernels (GEMM on row-major buffers; Conv as im2col + GEMM) for
// what oneDNN does not take; the rest is plain C++ and OpenMP. The executor plans the graph once (topological order, parsed
// attributes, the index of each node's consumers); running reads and writes a Store of values
// by name, so callers can cache activations and re-run only a range of nodes.
//
// Weights are the Model's tensors (initializers and Constant nodes), converted on first use
// and kept; setWeight() overrides one of them (e.g. with fake-quantized values).
// An executor may be used by several threads at once for run(), but setWeight() and
// clearWeights() must not overlap a run.
#include "bonsai/error.h"
#include "bonsai/model.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bonsai {

// Symmetric integer codes of a weight (OnnxExecutor::setWeight): value = codes * scale of its
// channel along `axis` (one scale: per tensor). Codes in the weight's own layout.
struct QuantizedWeight {
    std::vector<int8_t> codes;
    std::vector<float> scales;
    int axis = 0;
};

// A tensor value: row-major, outermost dimension first. Exactly one of f / i / b holds the
// elements (the one of `type`).
struct Value {
    enum class Type : uint8_t { Float, Int64, Bool };
    Type type = Type::Float;
    std::vector<int64_t> shape;
    std::vector<float> f;
    std::vector<int64_t> i;
    std::vector<uint8_t> b; // 0 or 1
    // Set by the executor on the weights it holds, 0 on every computed value: a number no
    // other weight content ever had, so kernels may cache what they derive from a weight
    // (a reordered or BatchNorm-folded copy) under it.
    uint64_t weightVersion = 0;
    // A weight's integer codes, when setWeight gave them (deploy mode runs from them).
    std::shared_ptr<const QuantizedWeight> quantized;

    size_t numel() const;
    static Value floats(std::vector<int64_t> shape, std::vector<float> values);
    static Value ints(std::vector<int64_t> shape, std::vector<int64_t> values);
    static Value bools(std::vector<int64_t> shape, std::vector<uint8_t> values);
};

std::string_view valueTypeName(Value::Type t); // "float", "int64", "bool"
std::string shapeString(const std::vector<int64_t>& shape); // "[1, 3, -1]" ("?" for -1)

// Raised by run() when a kernel let a library exception through (std::out_of_range, ...): a
// bug in the engine rather than in the file, still naming the file and the node.
class ExecInternalError : public FileError {
public:
    using FileError::FileError;
};

// One planned node.
struct ExecNode {
    std::string op;    // op type ("Conv", ...); for a fused node, the op of its first node
    std::vector<std::string> fused; // ops folded into this node after `op` ("Relu", "MaxPool")
    std::string name;  // node name (may be empty)
    std::vector<std::string> inputs;  // "" for an omitted optional input
    std::vector<std::string> outputs; // "" for an omitted optional output
};

struct ExecOptions {
    // Fold Conv -> Relu -> MaxPool chains into one node (the intermediate values are then
    // never stored). Values listed in `keep` (and graph outputs) are never folded away.
    // Conv -> BatchNormalization chains fold the normalization into the convolution's weights
    // and bias, and a Conv whose output only feeds an Add (a residual) adds the other operand
    // in its epilogue, when `fuse` is on.
    bool fuse = true;
    std::unordered_set<std::string> keep;
    // Deploy mode: Conv, Gemm and MatMul whose weight has integer codes (setWeight with a
    // QuantizedWeight of 8 bits) run in INT8 from those codes, their input activations
    // quantized per call (per tensor, unsigned when non-negative) and accumulated in int32.
    // Results then differ from fake quantization by the activations' rounding.
    bool deploy = false;
    // Conv, Gemm, MatMul and pooling through oneDNN (off: the plain Eigen kernels only, e.g.
    // as a reference).
    bool onednn = true;
};

class OnnxExecutor {
public:
    using Store = std::unordered_map<std::string, Value>;

    struct RunOptions {
        // Polled between nodes; run() stops (returns) early when it answers true.
        std::function<bool()> cancelled;
        // Erase a value from the store once the last node of the graph that reads it has run
        // (and values that nothing reads), unless it is a graph output or is listed in `keep`.
        bool dropDead = false;
        std::unordered_set<std::string> keep;
    };

    // Plans the main graph. Throws Error when the model is not an ONNX model, when the graph
    // is malformed (cycles, values nobody produces) or when it has ops or attributes the engine
    // cannot run (the message lists them all).
    explicit OnnxExecutor(const Model& model, const ExecOptions& options = {});
    ~OnnxExecutor();
    OnnxExecutor(const OnnxExecutor&) = delete;
    OnnxExecutor& operator=(const OnnxExecutor&) = delete;

    // Sorted, unique op types of the main graph that cannot be run (unknown ops, subgraph ops
    // such as If/Loop/Scan, other domains, attributes or attribute values not implemented).
    // Empty when every op is supported.
    static std::vector<std::string> unsupportedOps(const Model& model);
    // Everything that stops the executor, with a reason each ("Dropout: training_mode that is
    // not a constant false", "graph input 'x': element type 10", ...). Empty when runnable.
    static std::vector<std::string> unsupportedReasons(const Model& model);

    const std::vector<std::string>& inputNames() const { return inputNames_; }  // not initializers
    const std::vector<std::string>& outputNames() const { return outputNames_; }
    std::vector<int64_t> inputShape(size_t i) const;  // symbolic or unknown dims as -1
    Value::Type inputType(size_t i) const;

    // Weight overrides. `values` must have the tensor's element count; the tensor must be a
    // float tensor of the model. Throws Error otherwise.
    void setWeight(const std::string& tensorName, std::vector<float> values);
    // The same, with the integer codes `values` came from (deploy mode runs from them); their
    // count must be the tensor's and `axis` within its rank, the scales one or its dim.
    void setWeight(const std::string& tensorName, std::vector<float> values, QuantizedWeight codes);
    void clearWeight(const std::string& tensorName);
    void clearWeights();

    // Nodes in execution (topological) order.
    size_t nodeCount() const { return nodes_.size(); }
    const ExecNode& node(size_t k) const { return nodes_[k]; }
    const std::string& nodeOutput(size_t k, size_t j) const { return nodes_[k].outputs.at(j); }
    // Index of the first node (in execution order) that reads `name` (a weight or any value);
    // SIZE_MAX when none does.
    size_t firstNodeUsing(const std::string& name) const;
    // Index of the last node that reads `name`; SIZE_MAX when none does.
    size_t lastNodeUsing(const std::string& name) const;
    // Index of the node that produces `name`; SIZE_MAX for graph inputs and weights.
    size_t producerOf(const std::string& name) const;

    // Runs nodes [from, min(to, nodeCount())) in order. Each input is taken from `store`, else
    // from the weight overrides, else from the model's tensors; every produced value is written
    // into `store`. Graph inputs in the store are checked against the declared type and shape.
    // Throws Error naming the node on a failure (missing value, wrong type or shape, ...).
    void run(Store& store, size_t from = 0, size_t to = SIZE_MAX,
             const std::function<bool()>& cancelled = {}) const;
    void run(Store& store, size_t from, size_t to, const RunOptions& options) const;
    // Convenience: inputs in inputNames() order; returns the graph outputs in order.
    std::vector<Value> run(const std::vector<Value>& inputs) const;

    // Checks a graph input value against the declared type and shape (Error naming the input
    // and the expected shape).
    void checkInput(const std::string& name, const Value& v) const;

    // The value `name` as run() would read it: from the store, a weight override or the
    // model's tensors (e.g. a graph output that is a Constant); nullptr when none has it.
    const Value* find(const Store& store, const std::string& name) const { return lookup(store, name); }

    struct Impl;

private:
    const Value* lookup(const Store& store, const std::string& name) const;
    const Value& weight(int tensor) const;

    const Model& model_;
    std::vector<ExecNode> nodes_;
    std::vector<std::string> inputNames_, outputNames_;
    std::unique_ptr<Impl> impl_;
};

} // namespace bonsai
