#pragma once
// A minimal GGUF writer for tests, independent of the reader: metadata values in the file's
// encoding, tensor infos and an aligned data section.
#include "testutil.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace testutil::gguf {

// GGUF value type ids and ggml type ids as written in files.
enum : uint32_t { tU8 = 0, tI8, tU16, tI16, tU32, tI32, tF32, tBool, tString, tArray, tU64, tI64, tF64 };
enum : uint32_t {
    gF32 = 0, gF16 = 1, gQ8_0 = 8, gI8 = 24, gI16 = 25, gI32 = 26, gI64 = 27, gF64 = 28, gBF16 = 30,
};

inline std::string str(const std::string& s)
{
    std::string b;
    put<uint64_t>(b, s.size());
    return b + s;
}
template <typename T>
inline std::string scalar(T v)
{
    std::string b;
    put<T>(b, v);
    return b;
}
// Array value bytes: element type, count, packed elements.
inline std::string array(uint32_t elemType, uint64_t count, const std::string& elems)
{
    std::string b;
    put<uint32_t>(b, elemType);
    put<uint64_t>(b, count);
    return b + elems;
}

// A minimal GGUF writer: header, key/values, tensor infos, aligned data section.
struct GgufWriter {
    uint32_t version = 3;
    uint64_t alignment = 32; // layout alignment (add general.alignment as a key yourself)
    std::string kvBytes;
    uint64_t kvCount = 0;
    struct Tensor {
        std::string name;
        std::vector<uint64_t> ne;
        uint32_t type;
        std::string data;
        std::optional<uint64_t> offset; // explicit offset, else packed and aligned
    };
    std::vector<Tensor> tensors;

    void kv(const std::string& key, uint32_t type, const std::string& value)
    {
        kvBytes += str(key);
        put<uint32_t>(kvBytes, type);
        kvBytes += value;
        ++kvCount;
    }
    void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, std::string data,
                std::optional<uint64_t> offset = std::nullopt)
    {
        tensors.push_back({name, std::move(ne), type, std::move(data), offset});
    }
    std::string build() const
    {
        std::string out = "GGUF";
        put<uint32_t>(out, version);
        put<uint64_t>(out, tensors.size());
        put<uint64_t>(out, kvCount);
        out += kvBytes;
        std::vector<uint64_t> offsets;
        uint64_t next = 0;
        for (const auto& t : tensors) {
            if (t.offset) {
                offsets.push_back(*t.offset);
            } else {
                next = (next + alignment - 1) / alignment * alignment;
                offsets.push_back(next);
                next += t.data.size();
            }
        }
        for (size_t k = 0; k < tensors.size(); ++k) {
            const auto& t = tensors[k];
            out += str(t.name);
            put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
            for (uint64_t d : t.ne)
                put<uint64_t>(out, d);
            put<uint32_t>(out, t.type);
            put<uint64_t>(out, offsets[k]);
        }
        out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
        std::string data;
        for (size_t k = 0; k < tensors.size(); ++k) {
            const uint64_t end = offsets[k] + tensors[k].data.size();
            if (data.size() < end)
                data.resize(end, '\0');
            std::memcpy(data.data() + offsets[k], tensors[k].data.data(), tensors[k].data.size());
        }
        return out + data;
    }
};

// Convenience: metadata arrays of strings and of 32-bit numbers.
inline std::string stringArray(const std::vector<std::string>& v)
{
    std::string elems;
    for (const auto& s : v)
        elems += str(s);
    return array(tString, v.size(), elems);
}
template <typename T>
inline std::string numberArray(uint32_t elemType, const std::vector<T>& v)
{
    std::string elems;
    for (T x : v)
        put<T>(elems, x);
    return array(elemType, v.size(), elems);
}

} // namespace testutil::gguf
