#pragma once
#include "bonsai/dtype.h"
#include "bonsai/readers.h"
// Parsed GGUF metadata: every key/value pair of the file header with its typed value.
//
// readGguf() stores a GgufMetadata in Model::native; ggufMetadata(model) returns it (or
// nullptr for models that are not GGUF). Language-model features read the tokenizer
// (tokenizer.ggml.tokens / scores / token_type / merges) and hyper-parameters from here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bonsai {

class Model;

// GGUF metadata value types, numbered as in the file format.
enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
    String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view ggufTypeName(GgufType t); // "u8", "i32", "f32", "bool", "string", "array", ...
// Bytes of one scalar value of type t (Bool: 1); 0 for String and Array.
uint64_t ggufScalarSize(GgufType t);

struct GgufValue {
    GgufType type = GgufType::U8;

    // Scalars (by type): unsigned integers and Bool in u; signed integers in i; F32 and F64
    // in f (an F32 is exactly representable as double); String in str.
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    std::string str;

    // Arrays (type == Array). elemType is the element type and count the element count.
    // Numeric and Bool elements: `raw` holds them packed little-endian as in the file
    // (count * element size bytes); read them with intAt/uintAt/floatAt or the to* helpers.
    // String elements are in `strings`, nested arrays in `arrays`.
    GgufType elemType = GgufType::U8;
    uint64_t count = 0;
    std::vector<uint8_t> raw;
    std::vector<std::string> strings;
    std::vector<GgufValue> arrays;

    bool isArray() const { return type == GgufType::Array; }
    bool isString() const { return type == GgufType::String; }
    bool isInteger() const; // any integer scalar type (not Bool)

    // Scalar conversions; nullopt when the type does not fit (e.g. a string, or a U64 above
    // INT64_MAX for asInt, or a negative value for asUInt).
    std::optional<int64_t> asInt() const;
    std::optional<uint64_t> asUInt() const;
    std::optional<double> asDouble() const; // integers, floats and Bool
    std::optional<bool> asBool() const;

    // Element access for numeric/Bool arrays; index must be < count.
    int64_t intAt(uint64_t index) const;    // U64 elements above INT64_MAX wrap
    uint64_t uintAt(uint64_t index) const;  // signed elements are sign-extended then cast
    double floatAt(uint64_t index) const;   // any numeric element as double
    std::vector<int64_t> toInts() const;    // empty unless a numeric/Bool array
    std::vector<float> toFloats() const;    // empty unless a numeric/Bool array

    // Display form: scalars as text, strings quoted-free (long ones shortened),
    // arrays summarised as "[32000 x string]" (short numeric arrays list their values).
    std::string display() const;
};

struct GgufMetadata {
    uint32_t version = 0;       // 2 or 3
    uint64_t alignment = 32;    // general.alignment or the default
    uint64_t dataOffset = 0;    // file offset of the tensor data section
    uint64_t tensorCount = 0;
    std::vector<std::pair<std::string, GgufValue>> kv; // in file order, keys unique

    const GgufValue* find(std::string_view key) const;
    std::optional<int64_t> getInt(std::string_view key) const;
    std::optional<uint64_t> getUInt(std::string_view key) const;
    std::optional<double> getDouble(std::string_view key) const;
    std::optional<bool> getBool(std::string_view key) const;
    std::optional<std::string> getString(std::string_view key) const;
    // The string elements of a string array, or nullptr.
    const std::vector<std::string>* getStrings(std::string_view key) const;

    // Typed reads for what a model's metadata configures: nullopt (nullptr) only when the key
    // is absent; a value of another type (an array of strings where integers belong, a string
    // where a number belongs) is refused with FileError(path, "metadata key '<key>' is <found>,
    // not <wanted>"), never read as absent.
    std::optional<int64_t> requireTypedInt(std::string_view key, const std::string& path) const;
    std::optional<double> requireTypedNumber(std::string_view key, const std::string& path) const;
    std::optional<bool> requireTypedBool(std::string_view key, const std::string& path) const;
    std::optional<std::string> requireTypedString(std::string_view key, const std::string& path) const;
    const std::vector<std::string>* requireTypedStrings(std::string_view key, const std::string& path) const;
    // A numeric (or Bool) array of exactly `count` elements.
    const GgufValue* requireTypedNumbers(std::string_view key, uint64_t count, const std::string& path) const;
};

// A value's type as a message names it: "u32", "string", "an array of 3 string".
std::string ggufTypeText(const GgufValue& v);

// The ggml type id (ggml.h's enum ggml_type) a storage type is written as; nullopt for types
// GGUF has no id for (the unsigned integers, Bool, FP8).
std::optional<uint32_t> ggmlTypeId(DType t);

// The metadata of a model read from a GGUF file, or nullptr for other formats.
const GgufMetadata* ggufMetadata(const Model& model);

} // namespace bonsai
