#pragma once
// Internal: the state behind bonsai::Trainer, shared by train.cpp (planning, parameters,
// masks, epochs) and train_pass.cpp (forward, backward, optimizer). Not a public API.
#include "bonsai/onnx_exec.h"
#include "bonsai/train.h"
#include "train/grad.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace onnx {
class NodeProto;
}

namespace bonsai {

struct TrainNode {
    std::string op, name;
    std::vector<std::string> in, out; // "" for omitted optional values
    const onnx::NodeProto* proto = nullptr;
    bool onPath = false;               // a differentiable input needs a gradient
    // Parsed attributes.
    grad::WindowAttrs win;              // Conv, MaxPool, AveragePool (kernel = kernel_shape)
    int64_t group = 1;
    bool countIncludePad = false;
    bool ta = false, tb = false;        // Gemm
    float alpha = 1.0f, beta = 1.0f;
    float eps = 1e-5f, momentum = 0.9f; // BatchNormalization
    // BatchNormalization batch statistics of the last training forward pass.
    std::vector<float> mean, invStd;
};

// "node 'name' (Op)" for messages about a node of the model file (an unnamed node by its
// first output), as the executor words them.
inline std::string nodeLabel(const TrainNode& n)
{
    return "node '" + (n.name.empty() && !n.out.empty() ? n.out[0] : n.name) + "' (" + n.op + ")";
}

struct TrainParam {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> value, grad, m1, m2; // latent values, gradient, optimizer moments
    std::vector<uint8_t> mask;              // empty: none
    bool decay = false;                     // rank >= 2: weight decay applies
};

struct TrainBuffer {
    std::vector<int64_t> shape;
    std::vector<float> value;
};

struct Trainer::Impl {
    const Model& model;
    TrainOptions opt;
    std::unique_ptr<OnnxExecutor> exec;
    std::vector<TrainNode> nodes; // execution order
    std::vector<TrainParam> params;
    std::unordered_map<std::string, size_t> paramIndex;
    std::unordered_map<std::string, TrainBuffer> buffers;
    std::vector<std::string> bufferOrder;
    std::unordered_set<std::string> needGrad; // values whose gradient the backward pass forms
    std::string input, output;
    std::vector<int64_t> inShape;
    WeightTransform transform;
    bool training = true;
    double lr = 1e-3;
    int64_t t = 0; // optimizer steps

    OnnxExecutor::Store store;
    std::unordered_map<std::string, std::vector<float>> actGrad; // activation gradients
    std::unordered_set<std::string> live;                        // actGrad entries of this pass
    std::vector<float> logits, inGrad;
    int64_t lastN = 0, classes = 0;

    Impl(const Model& m, const TrainOptions& o) : model(m), opt(o), lr(o.lr) {}

    TrainParam* param(const std::string& name)
    {
        auto it = paramIndex.find(name);
        return it == paramIndex.end() ? nullptr : &params[it->second];
    }
    // The current value of a graph value or weight as the forward pass saw it.
    const Value& val(const std::string& name) const;

    // train_pass.cpp
    void forward(const TrainBatch& b);
    double lossAndBackward(const TrainBatch& b);
    void update();
    void applyMask(TrainParam& p);
};

} // namespace bonsai
