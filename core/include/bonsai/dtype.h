#pragma once
// Storage types of tensors in the supported formats, and their layout.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bonsai {

enum class DType : uint8_t {
    F64, F32, F16, BF16,
    I64, I32, I16, I8, U8, U16, U32, U64, Bool,
    F8_E4M3, F8_E5M2,
    // GGUF block-quantized types
    Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
    Count
};

struct DTypeInfo {
    std::string_view name;  // canonical upper-case name ("F16", "Q4_K", ...)
    uint32_t blockElems;    // elements per storage block (1 for plain types)
    uint32_t blockBytes;    // bytes per block (0 for sub-byte plain types: none today)
    bool isFloat;
    bool isQuantized;       // block-quantized (GGUF)
};

const DTypeInfo& dtypeInfo(DType t);
inline std::string_view dtypeName(DType t) { return dtypeInfo(t).name; }
std::optional<DType> dtypeFromName(std::string_view name);

// Bytes needed to store n elements; nullopt when n is not a multiple of the block size
// or the byte count overflows.
std::optional<uint64_t> storageBytes(DType t, uint64_t n);

} // namespace bonsai
