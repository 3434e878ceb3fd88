#pragma once
// Per-layer compression configuration: three independent knobs applied in a fixed order,
// sparsity, then rank, then precision (precision applies to whatever the layer then stores:
// the dense matrix, the kept values, or the two low-rank factors).
#include "bonsai/dtype.h"
#include "bonsai/quantize.h"
#include "bonsai/sparsity.h" // ChannelNorm

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bonsai {

enum class PrecisionKind : uint8_t { FP32, FP16, BF16, FP8_E4M3, FP8_E5M2, Int, NF4, Ggml };

struct Precision {
    PrecisionKind kind = PrecisionKind::FP32;
    int bits = 0;              // Int: 2..8
    DType ggml = DType::Q8_0;  // Ggml: the block type
    bool operator==(const Precision&) const = default;
};

// Recipe names: fp32 fp16 bf16 fp8_e4m3 fp8_e5m2 int2..int8 nf4 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k
// q3_k q4_k q5_k q6_k.
std::string precisionName(const Precision& p);
std::optional<Precision> parsePrecision(std::string_view name);

// How integer codes are chosen (integer precisions only; other precisions ignore it).
//  - RTN: round to nearest, each weight on its own (fakeQuantInt);
//  - GPTQ: column by column with error compensation from the Hessian of the layer's inputs
//    on calibration data (bonsai/gptq.h);
//  - AWQ: per-input-channel scales searched on calibration activations, then RTN
//    (bonsai/awq.h).
// GPTQ and AWQ need calibration data; where none is available (a single-layer preview) the
// engine falls back to RTN and says so in the layer's notes.
enum class QuantMethod : uint8_t { RTN, GPTQ, AWQ };
std::string_view methodName(QuantMethod m); // "rtn", "gptq", "awq"
std::optional<QuantMethod> parseMethod(std::string_view name);

enum class SparsityPattern : uint8_t { Unstructured, NM, Channels };
enum class SparsityScope : uint8_t { Layer, Global };

struct LayerConfig {
    Precision precision;                               // fp32 = unchanged
    Granularity granularity = Granularity::PerChannel; // integers and FP8
    uint32_t groupSize = 128;
    bool symmetric = true;
    bool clipSearch = false;

    double sparsity = 0;       // fraction pruned (unstructured, channels); N:M implies 1 - N/M
    SparsityPattern pattern = SparsityPattern::Unstructured;
    int n = 2, m = 4;          // for SparsityPattern::NM
    SparsityScope scope = SparsityScope::Layer;
    ChannelNorm channelNorm = ChannelNorm::L2;

    QuantMethod method = QuantMethod::RTN; // integer precisions: how codes are chosen
    double damping = 0.01;     // GPTQ: fraction of the mean Hessian diagonal added to it
    bool actOrder = false;     // GPTQ: quantize columns in decreasing Hessian-diagonal order
    int calibSamples = 32;     // GPTQ/AWQ: calibration chunks (language models) or samples

    int rank = 0;              // truncated SVD rank (0: off)
    double energy = 0;         // or retained-energy fraction in (0, 1] (0: off)

    bool operator==(const LayerConfig&) const = default;
    bool isIdentity() const; // changes nothing
    bool hasSparsity() const { return pattern == SparsityPattern::NM || sparsity > 0; }
    bool hasRank() const { return rank > 0 || energy > 0; }
    // GPTQ or AWQ on an integer precision: the layer needs calibration data.
    bool needsCalibration() const { return precision.kind == PrecisionKind::Int && method != QuantMethod::RTN; }
};

// The calibration `configs` need: "gptq", "awq" or "gptq, awq" (empty: none), and in
// `samples` the most calibration samples (chunks) a layer takes.
std::string calibrationUse(const std::vector<LayerConfig>& configs, int64_t* samples = nullptr);

} // namespace bonsai
