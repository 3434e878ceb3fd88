// GgufValue and GgufMetadata: typed access to the key/value pairs the GGUF reader parsed.
#include "formats/gguf.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace bonsai {

namespace {

std::string floatText(double v, bool single)
{
    char buf[64];
    const auto r = single ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v))
                          : std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

} // namespace

uint64_t ggufScalarSize(GgufType t)
{
    switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
    }
}

std::string_view ggufTypeName(GgufType t)
{
    switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
    }
    return "unknown";
}

static bool isUnsignedType(GgufType t)
{
    return t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
}
static bool isSignedType(GgufType t)
{
    return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}
static bool isNumericType(GgufType t) { return ggufScalarSize(t) != 0; } // includes Bool

bool GgufValue::isInteger() const { return isUnsignedType(type) || isSignedType(type); }

std::optional<int64_t> GgufValue::asInt() const
{
    if (isSignedType(type))
        return i;
    if (isUnsignedType(type) && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return static_cast<int64_t>(u);
    return std::nullopt;
}

std::optional<uint64_t> GgufValue::asUInt() const
{
    if (isUnsignedType(type))
        return u;
    if (isSignedType(type) && i >= 0)
        return static_cast<uint64_t>(i);
    return std::nullopt;
}

std::optional<double> GgufValue::asDouble() const
{
    if (type == GgufType::F32 || type == GgufType::F64)
        return f;
    if (isSignedType(type))
        return static_cast<double>(i);
    if (isUnsignedType(type) || type == GgufType::Bool)
        return static_cast<double>(u);
    return std::nullopt;
}

std::optional<bool> GgufValue::asBool() const
{
    if (type == GgufType::Bool)
        return u != 0;
    return std::nullopt;
}

int64_t GgufValue::intAt(uint64_t k) const
{
    const uint8_t* p = raw.data() + k * ggufScalarSize(elemType);
    switch (elemType) {
    case GgufType::U8: case GgufType::Bool: return *p;
    case GgufType::I8: return static_cast<int8_t>(*p);
    case GgufType::U16: { uint16_t x; std::memcpy(&x, p, 2); return x; }
    case GgufType::I16: { int16_t x; std::memcpy(&x, p, 2); return x; }
    case GgufType::U32: { uint32_t x; std::memcpy(&x, p, 4); return x; }
    case GgufType::I32: { int32_t x; std::memcpy(&x, p, 4); return x; }
    case GgufType::U64: { uint64_t x; std::memcpy(&x, p, 8); return static_cast<int64_t>(x); }
    case GgufType::I64: { int64_t x; std::memcpy(&x, p, 8); return x; }
    case GgufType::F32: { float x; std::memcpy(&x, p, 4); return static_cast<int64_t>(x); }
    case GgufType::F64: { double x; std::memcpy(&x, p, 8); return static_cast<int64_t>(x); }
    default: return 0;
    }
}

uint64_t GgufValue::uintAt(uint64_t k) const
{
    if (elemType == GgufType::U64) {
        uint64_t x;
        std::memcpy(&x, raw.data() + k * 8, 8);
        return x;
    }
    return static_cast<uint64_t>(intAt(k));
}

double GgufValue::floatAt(uint64_t k) const
{
    const uint8_t* p = raw.data() + k * ggufScalarSize(elemType);
    if (elemType == GgufType::F32) {
        float x;
        std::memcpy(&x, p, 4);
        return x;
    }
    if (elemType == GgufType::F64) {
        double x;
        std::memcpy(&x, p, 8);
        return x;
    }
    if (elemType == GgufType::U64)
        return static_cast<double>(uintAt(k));
    return static_cast<double>(intAt(k));
}

std::vector<int64_t> GgufValue::toInts() const
{
    std::vector<int64_t> out;
    if (type != GgufType::Array || !isNumericType(elemType))
        return out;
    out.resize(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k)
        out[k] = intAt(k);
    return out;
}

std::vector<float> GgufValue::toFloats() const
{
    std::vector<float> out;
    if (type != GgufType::Array || !isNumericType(elemType))
        return out;
    out.resize(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k)
        out[k] = static_cast<float>(floatAt(k));
    return out;
}

std::string GgufValue::display() const
{
    switch (type) {
    case GgufType::Bool: return u ? "true" : "false";
    case GgufType::F32: return floatText(f, true);
    case GgufType::F64: return floatText(f, false);
    case GgufType::String: {
        // One line: escape line breaks and tabs; shorten long texts (chat templates).
        constexpr size_t kMax = 200;
        size_t cut = std::min(str.size(), kMax);
        while (cut > 0 && cut < str.size() && (static_cast<unsigned char>(str[cut]) & 0xC0) == 0x80)
            --cut; // do not split a UTF-8 sequence
        std::string s;
        for (size_t k = 0; k < cut; ++k) {
            const char ch = str[k];
            if (ch == '\n') s += "\\n";
            else if (ch == '\r') s += "\\r";
            else if (ch == '\t') s += "\\t";
            else s += ch;
        }
        if (cut < str.size())
            s += "... (" + std::to_string(str.size()) + " bytes)";
        return s;
    }
    case GgufType::Array: {
        if (isNumericType(elemType) && count > 0 && count <= 8) {
            std::string s = "[";
            for (uint64_t k = 0; k < count; ++k) {
                s += k ? ", " : "";
                if (elemType == GgufType::F32 || elemType == GgufType::F64)
                    s += floatText(floatAt(k), elemType == GgufType::F32);
                else if (elemType == GgufType::Bool)
                    s += intAt(k) ? "true" : "false";
                else if (elemType == GgufType::U64)
                    s += std::to_string(uintAt(k));
                else
                    s += std::to_string(intAt(k));
            }
            return s + "]";
        }
        return "[" + std::to_string(count) + " x " + std::string(ggufTypeName(elemType)) + "]";
    }
    default:
        return isSignedType(type) ? std::to_string(i) : std::to_string(u);
    }
}

const GgufValue* GgufMetadata::find(std::string_view key) const
{
    for (const auto& [k, v] : kv)
        if (k == key)
            return &v;
    return nullptr;
}

// Scalar getters: nullopt when the key is absent or its value does not convert.
std::optional<int64_t> GgufMetadata::getInt(std::string_view key) const
{
    const GgufValue* v = find(key);
    return v ? v->asInt() : std::nullopt;
}
std::optional<uint64_t> GgufMetadata::getUInt(std::string_view key) const
{
    const GgufValue* v = find(key);
    return v ? v->asUInt() : std::nullopt;
}
std::optional<double> GgufMetadata::getDouble(std::string_view key) const
{
    const GgufValue* v = find(key);
    return v ? v->asDouble() : std::nullopt;
}
std::optional<bool> GgufMetadata::getBool(std::string_view key) const
{
    const GgufValue* v = find(key);
    return v ? v->asBool() : std::nullopt;
}

std::optional<std::string> GgufMetadata::getString(std::string_view key) const
{
    const GgufValue* v = find(key);
    if (!v || !v->isString())
        return std::nullopt;
    return v->str;
}

const std::vector<std::string>* GgufMetadata::getStrings(std::string_view key) const
{
    const GgufValue* v = find(key);
    if (!v || !v->isArray() || v->elemType != GgufType::String)
        return nullptr;
    return &v->strings;
}

std::string ggufTypeText(const GgufValue& v)
{
    if (!v.isArray())
        return std::string(ggufTypeName(v.type));
    return "an array of " + std::to_string(v.count) + " " + std::string(ggufTypeName(v.elemType));
}

namespace {

[[noreturn]] void wrongType(std::string_view key, const GgufValue& v, const char* wanted, const std::string& path)
{
    throw FileError(path, "metadata key '" + std::string(key) + "' is " + ggufTypeText(v) + ", not " + wanted);
}

} // namespace

std::optional<int64_t> GgufMetadata::requireTypedInt(std::string_view key, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (!v->isInteger())
        wrongType(key, *v, "an integer", path);
    if (const auto i = v->asInt())
        return i;
    throw FileError(path, "metadata key '" + std::string(key) + "' is " + v->display() +
                              ", beyond the range of a signed 64-bit integer");
}

std::optional<double> GgufMetadata::requireTypedNumber(std::string_view key, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (!v->isInteger() && v->type != GgufType::F32 && v->type != GgufType::F64)
        wrongType(key, *v, "a number", path);
    return v->asDouble();
}

std::optional<bool> GgufMetadata::requireTypedBool(std::string_view key, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (v->type != GgufType::Bool)
        wrongType(key, *v, "a bool", path);
    return v->u != 0;
}

std::optional<std::string> GgufMetadata::requireTypedString(std::string_view key, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (!v->isString())
        wrongType(key, *v, "a string", path);
    return v->str;
}

const std::vector<std::string>* GgufMetadata::requireTypedStrings(std::string_view key, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return nullptr;
    if (!v->isArray() || v->elemType != GgufType::String)
        wrongType(key, *v, "an array of strings", path);
    return &v->strings;
}

const GgufValue* GgufMetadata::requireTypedNumbers(std::string_view key, uint64_t count, const std::string& path) const
{
    const GgufValue* v = find(key);
    if (!v)
        return nullptr;
    if (!v->isArray() || !isNumericType(v->elemType))
        wrongType(key, *v, "an array of numbers", path);
    if (v->count != count)
        throw FileError(path, "metadata key '" + std::string(key) + "' has " + std::to_string(v->count) +
                                  " elements, not the " + std::to_string(count) + " expected");
    return v;
}

const GgufMetadata* ggufMetadata(const Model& model)
{
    if (model.format != Format::Gguf || !model.native)
        return nullptr;
    return static_cast<const GgufMetadata*>(model.native.get());
}

} // namespace bonsai
