#pragma once
// SentencePiece BPE tokenization, read from a `tokenizer.model` file or from a vocabulary
// (GGUF metadata), without the SentencePiece library.
//
// Why our own: Debian's libsentencepiece embeds its own copy of protobuf 3.14 and exports its
// symbols, so it cannot share a process with libonnx's protobuf 3.21 (the first one loaded
// wins and the other aborts on a version check). This code follows the library's algorithm
// (normalizer with the precompiled character map, dummy prefix, whitespace handling, BPE
// merges by piece score with the leftmost pair first, byte fallback, unknown-run merging) and
// the tests compare its ids with the library's own, in a process without libonnx.
//
// A plain library with no dependencies (used by bonsai_core and by that test).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bonsai::spm {

enum class PieceType : int { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct Vocabulary {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<PieceType> types;
    int modelType = 2;             // 1 unigram, 2 BPE (only BPE is supported for encoding)
    bool byteFallback = false;
    int unkId = 0, bosId = 1, eosId = 2, padId = -1;
    // Normalizer
    std::string normalizerName = "identity";
    std::string precompiledCharsmap; // empty: no character mapping
    bool addDummyPrefix = true;
    bool removeExtraWhitespaces = true;
    bool escapeWhitespaces = true;
};

// Parses a serialized sentencepiece ModelProto. Returns an error message in `error` (and
// nullopt) on malformed input.
std::optional<Vocabulary> parseModelProto(std::string_view bytes, std::string& error);

class Processor {
public:
    // Throws std::runtime_error with the fault on an unsupported model (unigram, bad ids,
    // malformed character map).
    explicit Processor(Vocabulary v);

    std::vector<int32_t> encode(std::string_view text) const; // no BOS/EOS
    std::string decode(const std::vector<int32_t>& ids) const;
    std::string normalize(std::string_view text) const;
    const Vocabulary& vocabulary() const { return v_; }
    int32_t pieceToId(std::string_view piece) const; // unk id when absent

private:
    // Longest charsmap match at the start of `in`: (replacement, consumed bytes).
    std::pair<std::string_view, size_t> normalizePrefix(std::string_view in) const;

    Vocabulary v_;
    std::unordered_map<std::string, int32_t> normal_;   // normal, user-defined, unused pieces
    std::unordered_map<std::string, int32_t> reserved_; // control, unknown, byte pieces
    std::vector<std::string> userDefined_;
    int32_t byteIds_[256];
    const uint32_t* trie_ = nullptr;
    size_t trieUnits_ = 0;
    std::string_view normalizedBlob_;
};

} // namespace bonsai::spm
