#pragma once
// Access to the ONNX graph behind a Model opened by readOnnx().
//
// readOnnx() keeps the parsed onnx::ModelProto alive in Model::native. Tensors whose bytes
// come from raw_data point into that proto, so it must never be modified while the Model
// lives (hence only const access here). The onnx headers are not included: users that
// inspect the graph include <onnx/onnx-ml.pb.h> themselves (with ONNX_ML=1,
// ONNX_NAMESPACE=onnx).
#include "bonsai/model.h"

#include <set>
#include <string>
#include <vector>

namespace onnx {
class GraphProto;
class ModelProto;
class NodeProto;
} // namespace onnx

namespace bonsai {

// ONNX IR versions and default-domain opsets the reader accepts (others: FileError naming
// the version and this range).
inline constexpr int64_t kOnnxMinIrVersion = 3;
inline constexpr int64_t kOnnxMaxIrVersion = 11;
inline constexpr int64_t kOnnxMaxOpset = 23;

// Deepest nesting of subgraphs (If/Loop/Scan bodies, ...) that the reader accepts.
inline constexpr int kOnnxMaxSubgraphDepth = 16;

// The parsed model, or nullptr when `m` was not read by readOnnx().
const onnx::ModelProto* onnxProto(const Model& m);

// Every node of the main graph and of its subgraphs, depth first: a node is followed by the
// nodes of its subgraph attributes. Subgraphs deeper than kOnnxMaxSubgraphDepth are left out.
std::vector<const onnx::NodeProto*> onnxNodes(const onnx::ModelProto& proto);

// Rebuilds Model::layers from the graph: each floating-point weight of rank >= 2 consumed by
// a Conv, ConvTranspose, Gemm, MatMul or Gather node becomes a layer with that node's op,
// its output-channel axis and its bias (Conv/ConvTranspose/Gemm input 2, or the 1-D
// initializer of an Add that consumes a MatMul output). Needs the tensors already added.
void tieOnnxLayers(Model& m);

// Where the output channels of layer `layer` go: through nodes that compute each channel from
// itself alone (activations, pooling, BatchNormalization with initializer parameters, Dropout,
// Identity) and at most one Flatten(axis 1), into the one Conv (its input channels, group 1),
// Gemm or MatMul (its input features: perChannel consecutive features per channel after a
// Flatten) that reads them. Removing a channel from the graph is exact when the consumer's
// columns for it are zero: nothing else sees the channel.
struct ChannelRoute {
    int consumer = -1;          // Model::layers index of the layer that reads the channels
    const onnx::NodeProto* consumerNode = nullptr;
    uint64_t perChannel = 0;    // consumer matrix columns per channel (Conv: kh*kw)
    std::vector<const onnx::NodeProto*> batchNorms; // on the way, with per-channel parameters
    std::string problem;        // why the channels cannot be removed (consumer == -1)
};
ChannelRoute channelRoute(const Model& m, int layer);

// Weights stored as QDQ: DequantizeLinear(codes, scale[, zero point]) of initializers, a
// Reshape to a constant shape after it, and Cast(FLOAT16 initializer, to FLOAT) become one
// tensor named after the weight the graph's nodes read (the executor skips the nodes that
// compute it); the initializers they consumed are no tensors of their own any more.
// `packed4`: the names of INT4/UINT4 initializers (unpacked to I8/U8 by the reader).
void foldOnnxDequantize(Model& m, const onnx::GraphProto& g, const std::set<std::string>& packed4);

// Replaces the external-data references of `graph`'s initializers (a copy of m's main graph)
// by the bytes the reader mapped, so that the graph serializes into one self-contained file.
void inlineExternalData(const Model& m, onnx::GraphProto& graph);

} // namespace bonsai
