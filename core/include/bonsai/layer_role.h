#pragma once
// What a layer is for, as far as compression choices care: an embedding table, the model's
// output layer (a language model's head or a classifier's last projection), or an ordinary
// weight. Presets keep embeddings and output layers at higher precision.
#include <cstddef>
#include <string>

namespace bonsai {

class Model;

enum class LayerRole { Weight, Embedding, Output };

// Embedding tables by tensor name ("embed", "wte", "wpe", "tok_embeddings", "token_embd").
bool isEmbeddingName(const std::string& tensorName);

// The role of m.layers[layer]:
//   Embedding: an Embedding/Gather layer, or an embedding name;
//   Output: a language-model head ("lm_head", GGUF "output" outside a block), a classifier
//     head by name ("classifier", "score", top-level "head"/"fc"), or, in an ONNX graph, the
//     last Gemm/MatMul layer when no other Gemm/MatMul/Conv layer follows it (the final
//     projection of a classifier; layers are in graph order);
//   Weight otherwise.
LayerRole layerRole(const Model& m, size_t layer);

} // namespace bonsai
