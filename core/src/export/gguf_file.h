#pragma once
// Writes a GGUF (version 3) file: typed key/value metadata, tensor infos and the aligned data
// section, through an AtomicFile. Tensor bytes are produced one tensor at a time by a
// callback, so a model is written layer by layer without a copy of it in memory.
#include "formats/gguf.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bonsai {

class GgufFileWriter {
public:
    static constexpr uint64_t Alignment = 32; // GGUF's default (no general.alignment key)

    void addString(const std::string& key, const std::string& v);
    void addU32(const std::string& key, uint32_t v);
    void addI32(const std::string& key, int32_t v);
    void addF32(const std::string& key, float v);
    void addBool(const std::string& key, bool v);
    void addStrings(const std::string& key, const std::vector<std::string>& v);
    void addF32s(const std::string& key, const std::vector<float>& v);
    void addI32s(const std::string& key, const std::vector<int32_t>& v);
    void addU8s(const std::string& key, const std::string& bytes);
    // A value read from another GGUF file, re-encoded as it was.
    void addValue(const std::string& key, const GgufValue& v);
    bool hasKey(const std::string& key) const;

    // A tensor of `shape` (outermost first, as Model shows it) stored as ggml type `ggmlType`
    // in `bytes` bytes; `fill` writes exactly those bytes into the buffer it is given.
    using Fill = std::function<void(uint8_t* dst)>;
    void addTensor(const std::string& name, const std::vector<int64_t>& shape, uint32_t ggmlType,
                   uint64_t bytes, Fill fill);

    // The size of the file write() makes.
    uint64_t fileBytes() const;
    // Writes the file atomically; `progress` (tensors done, total) may return false to cancel,
    // which throws Cancelled and leaves no file. Throws FileError naming `path`.
    void write(const std::string& path, const std::function<bool(size_t, size_t)>& progress = {}) const;

private:
    std::string header() const; // magic .. tensor infos, padded to the alignment
    void key(const std::string& k, GgufType t);

    struct Tensor {
        std::string name;
        std::vector<int64_t> shape;
        uint32_t type;
        uint64_t bytes, offset;
        Fill fill;
    };
    std::string kv_;
    uint64_t kvCount_ = 0;
    std::vector<std::string> keys_;
    std::vector<Tensor> tensors_;
    uint64_t dataBytes_ = 0;
};

} // namespace bonsai
