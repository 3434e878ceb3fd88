#include "bonsai/dtype.h"

#include <array>
#include <limits>

namespace bonsai {

namespace {
constexpr std::array<DTypeInfo, static_cast<size_t>(DType::Count)> kInfo = {{
    {"F64", 1, 8, true, false},
    {"F32", 1, 4, true, false},
    {"F16", 1, 2, true, false},
    {"BF16", 1, 2, true, false},
    {"I64", 1, 8, false, false},
    {"I32", 1, 4, false, false},
    {"I16", 1, 2, false, false},
    {"I8", 1, 1, false, false},
    {"U8", 1, 1, false, false},
    {"U16", 1, 2, false, false},
    {"U32", 1, 4, false, false},
    {"U64", 1, 8, false, false},
    {"BOOL", 1, 1, false, false},
    {"F8_E4M3", 1, 1, true, false},
    {"F8_E5M2", 1, 1, true, false},
    {"Q4_0", 32, 18, false, true},
    {"Q4_1", 32, 20, false, true},
    {"Q5_0", 32, 22, false, true},
    {"Q5_1", 32, 24, false, true},
    {"Q8_0", 32, 34, false, true},
    {"Q2_K", 256, 84, false, true},
    {"Q3_K", 256, 110, false, true},
    {"Q4_K", 256, 144, false, true},
    {"Q5_K", 256, 176, false, true},
    {"Q6_K", 256, 210, false, true},
}};
} // namespace

const DTypeInfo& dtypeInfo(DType t)
{
    return kInfo[static_cast<size_t>(t)];
}

std::optional<DType> dtypeFromName(std::string_view name)
{
    for (size_t i = 0; i < kInfo.size(); ++i)
        if (kInfo[i].name == name)
            return static_cast<DType>(i);
    return std::nullopt;
}

std::optional<uint64_t> storageBytes(DType t, uint64_t n)
{
    const auto& info = dtypeInfo(t);
    if (n % info.blockElems != 0)
        return std::nullopt;
    const uint64_t blocks = n / info.blockElems;
    if (blocks != 0 && info.blockBytes > std::numeric_limits<uint64_t>::max() / blocks)
        return std::nullopt;
    return blocks * info.blockBytes;
}

} // namespace bonsai
