#include "bonsai/layer_config.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace bonsai {

namespace {
struct NamedGgml {
    std::string_view name;
    DType type;
};
constexpr std::array<NamedGgml, 10> kGgml = {{{"q8_0", DType::Q8_0},
                                             {"q4_0", DType::Q4_0},
                                             {"q4_1", DType::Q4_1},
                                             {"q5_0", DType::Q5_0},
                                             {"q5_1", DType::Q5_1},
                                             {"q2_k", DType::Q2_K},
                                             {"q3_k", DType::Q3_K},
                                             {"q4_k", DType::Q4_K},
                                             {"q5_k", DType::Q5_K},
                                             {"q6_k", DType::Q6_K}}};
} // namespace

std::string precisionName(const Precision& p)
{
    switch (p.kind) {
    case PrecisionKind::FP32: return "fp32";
    case PrecisionKind::FP16: return "fp16";
    case PrecisionKind::BF16: return "bf16";
    case PrecisionKind::FP8_E4M3: return "fp8_e4m3";
    case PrecisionKind::FP8_E5M2: return "fp8_e5m2";
    case PrecisionKind::Int: return "int" + std::to_string(p.bits);
    case PrecisionKind::NF4: return "nf4";
    case PrecisionKind::Ggml:
        for (const auto& g : kGgml)
            if (g.type == p.ggml)
                return std::string(g.name);
        return "ggml?";
    }
    return "?";
}

std::optional<Precision> parsePrecision(std::string_view s)
{
    if (s == "fp32") return Precision{PrecisionKind::FP32};
    if (s == "fp16") return Precision{PrecisionKind::FP16};
    if (s == "bf16") return Precision{PrecisionKind::BF16};
    if (s == "fp8_e4m3") return Precision{PrecisionKind::FP8_E4M3};
    if (s == "fp8_e5m2") return Precision{PrecisionKind::FP8_E5M2};
    if (s == "nf4") return Precision{PrecisionKind::NF4};
    if (s.size() == 4 && s.substr(0, 3) == "int" && s[3] >= '2' && s[3] <= '8')
        return Precision{PrecisionKind::Int, s[3] - '0'};
    for (const auto& g : kGgml)
        if (g.name == s)
            return Precision{PrecisionKind::Ggml, 0, g.type};
    return std::nullopt;
}

std::string_view methodName(QuantMethod m)
{
    switch (m) {
    case QuantMethod::RTN: return "rtn";
    case QuantMethod::GPTQ: return "gptq";
    case QuantMethod::AWQ: return "awq";
    }
    return "?";
}

std::optional<QuantMethod> parseMethod(std::string_view s)
{
    if (s == "rtn") return QuantMethod::RTN;
    if (s == "gptq") return QuantMethod::GPTQ;
    if (s == "awq") return QuantMethod::AWQ;
    return std::nullopt;
}

bool LayerConfig::isIdentity() const
{
    return precision.kind == PrecisionKind::FP32 && !hasSparsity() && !hasRank();
}

std::string calibrationUse(const std::vector<LayerConfig>& configs, int64_t* samples)
{
    bool gptq = false, awq = false;
    int64_t most = 0;
    for (const auto& c : configs)
        if (c.needsCalibration()) {
            gptq |= c.method == QuantMethod::GPTQ;
            awq |= c.method == QuantMethod::AWQ;
            most = std::max<int64_t>(most, c.calibSamples);
        }
    if (samples)
        *samples = most;
    return gptq && awq ? "gptq, awq" : gptq ? "gptq" : awq ? "awq" : "";
}

} // namespace bonsai
