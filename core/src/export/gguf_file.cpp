#include "export/gguf_file.h"

#include "bonsai/error.h"
#include "bonsai/progress.h"
#include "common/atomic_file.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace bonsai {

namespace {

template <typename T>
void put(std::string& out, T v)
{
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

void putString(std::string& out, const std::string& s)
{
    put<uint64_t>(out, s.size());
    out += s;
}

uint64_t padTo(uint64_t n, uint64_t align) { return (align - n % align) % align; }

void putValue(std::string& out, const GgufValue& v)
{
    switch (v.type) {
    case GgufType::String: putString(out, v.str); return;
    case GgufType::Array:
        put<uint32_t>(out, static_cast<uint32_t>(v.elemType));
        put<uint64_t>(out, v.count);
        if (v.elemType == GgufType::String)
            for (const std::string& s : v.strings)
                putString(out, s);
        else if (v.elemType == GgufType::Array)
            for (const GgufValue& a : v.arrays)
                putValue(out, a);
        else
            out.append(reinterpret_cast<const char*>(v.raw.data()), v.raw.size());
        return;
    case GgufType::F32: put<float>(out, static_cast<float>(v.f)); return;
    case GgufType::F64: put<double>(out, v.f); return;
    default: {
        // Integers and Bool: their little-endian bytes, of the type's width.
        const uint64_t size = ggufScalarSize(v.type);
        const uint64_t bits = (v.type == GgufType::I8 || v.type == GgufType::I16 || v.type == GgufType::I32 ||
                               v.type == GgufType::I64)
                                  ? static_cast<uint64_t>(v.i)
                                  : v.u;
        char b[8];
        std::memcpy(b, &bits, 8);
        out.append(b, size);
    }
    }
}

} // namespace

void GgufFileWriter::key(const std::string& k, GgufType t)
{
    if (hasKey(k))
        throw Error("GGUF key '" + k + "' written twice");
    keys_.push_back(k);
    putString(kv_, k);
    put<uint32_t>(kv_, static_cast<uint32_t>(t));
    ++kvCount_;
}

bool GgufFileWriter::hasKey(const std::string& k) const { return std::find(keys_.begin(), keys_.end(), k) != keys_.end(); }

void GgufFileWriter::addString(const std::string& k, const std::string& v)
{
    key(k, GgufType::String);
    putString(kv_, v);
}

void GgufFileWriter::addU32(const std::string& k, uint32_t v)
{
    key(k, GgufType::U32);
    put<uint32_t>(kv_, v);
}

void GgufFileWriter::addI32(const std::string& k, int32_t v)
{
    key(k, GgufType::I32);
    put<int32_t>(kv_, v);
}

void GgufFileWriter::addF32(const std::string& k, float v)
{
    key(k, GgufType::F32);
    put<float>(kv_, v);
}

void GgufFileWriter::addBool(const std::string& k, bool v)
{
    key(k, GgufType::Bool);
    put<uint8_t>(kv_, v ? 1 : 0);
}

void GgufFileWriter::addStrings(const std::string& k, const std::vector<std::string>& v)
{
    key(k, GgufType::Array);
    put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::String));
    put<uint64_t>(kv_, v.size());
    for (const std::string& s : v)
        putString(kv_, s);
}

void GgufFileWriter::addF32s(const std::string& k, const std::vector<float>& v)
{
    key(k, GgufType::Array);
    put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::F32));
    put<uint64_t>(kv_, v.size());
    kv_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

void GgufFileWriter::addI32s(const std::string& k, const std::vector<int32_t>& v)
{
    key(k, GgufType::Array);
    put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::I32));
    put<uint64_t>(kv_, v.size());
    kv_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t));
}

void GgufFileWriter::addU8s(const std::string& k, const std::string& bytes)
{
    key(k, GgufType::Array);
    put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::U8));
    put<uint64_t>(kv_, bytes.size());
    kv_ += bytes;
}

void GgufFileWriter::addValue(const std::string& k, const GgufValue& v)
{
    key(k, v.type);
    putValue(kv_, v);
}

void GgufFileWriter::addTensor(const std::string& name, const std::vector<int64_t>& shape, uint32_t ggmlType,
                               uint64_t bytes, Fill fill)
{
    for (const Tensor& t : tensors_)
        if (t.name == name)
            throw Error("GGUF tensor '" + name + "' written twice");
    dataBytes_ += padTo(dataBytes_, Alignment);
    tensors_.push_back({name, shape, ggmlType, bytes, dataBytes_, std::move(fill)});
    dataBytes_ += bytes;
}

std::string GgufFileWriter::header() const
{
    std::string h;
    h += "GGUF";
    put<uint32_t>(h, 3);
    put<uint64_t>(h, tensors_.size());
    put<uint64_t>(h, kvCount_);
    h += kv_;
    for (const Tensor& t : tensors_) {
        putString(h, t.name);
        put<uint32_t>(h, static_cast<uint32_t>(t.shape.size()));
        for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) // ne[0] is the innermost
            put<uint64_t>(h, static_cast<uint64_t>(*d));
        put<uint32_t>(h, t.type);
        put<uint64_t>(h, t.offset);
    }
    h.append(padTo(h.size(), Alignment), '\0');
    return h;
}

uint64_t GgufFileWriter::fileBytes() const { return header().size() + dataBytes_; }

void GgufFileWriter::write(const std::string& path, const std::function<bool(size_t, size_t)>& progress) const
{
    AtomicFile out(path);
    const std::string h = header();
    out.write(h.data(), h.size());
    uint64_t written = 0;
    std::vector<uint8_t> buffer;
    static const char zeros[Alignment] = {};
    for (size_t k = 0; k < tensors_.size(); ++k) {
        const Tensor& t = tensors_[k];
        out.write(zeros, t.offset - written);
        buffer.assign(t.bytes, 0);
        t.fill(buffer.data());
        out.write(buffer.data(), buffer.size());
        written = t.offset + t.bytes;
        if (progress && !progress(k + 1, tensors_.size()))
            throw Cancelled();
    }
    out.commit();
}

} // namespace bonsai
