#pragma once
// Internals shared by the tokenizer sources: the byte-level BPE engine (tokenizer_bpe.cpp),
// filled from tokenizer.json (tokenizer_json.cpp) or GGUF metadata (tokenizer_gguf.cpp), and
// the SentencePiece wrapper (tokenizer.cpp) over bonsai_spm.
#include "bonsai/tokenizer.h"
#include "tokenizer/spm.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bonsai::detail {

// The pre-tokenizer regexes found in the wild (see tokenizer_pretok.cpp).
enum class PreTokPattern {
    None,   // no split: each text segment between special tokens is one word
    Gpt2,   // GPT-2's pattern
    Llama3, // Llama 3's pattern (numbers in groups of 1-3 digits)
    Qwen2,  // Llama 3's pattern with single digits
};

// The pattern named "gpt2", "llama3", "qwen2" or "none"; *ok = false for other names.
PreTokPattern preTokPatternByName(std::string_view name, bool* ok);
// The pattern whose regex source is `regex` (as written in tokenizer.json); ok=false if unknown.
PreTokPattern preTokPatternByRegex(std::string_view regex, bool* ok);
// Splits UTF-8 text into pre-tokens (byte ranges: offset, length).
std::vector<std::pair<size_t, size_t>> preTokenize(std::string_view text, PreTokPattern pattern);

// Everything a byte-level BPE tokenizer needs, whatever file it came from.
struct BpeSpec {
    std::vector<std::string> vocab;                         // id -> piece (byte-level form)
    std::vector<std::pair<std::string, std::string>> merges; // by rank
    struct Added {
        std::string content; // matched verbatim in the raw text
        int32_t id = -1;
        bool special = false; // skipped by decode()
    };
    std::vector<Added> added;
    PreTokPattern pattern = PreTokPattern::Gpt2;
    bool addPrefixSpace = false;
    bool ignoreMerges = false; // a whole word found in the vocabulary wins over merges
    int32_t unk = -1;
    int32_t bos = -1;
    int32_t eos = -1;
    bool templateBos = false; // tokenizer.json's post-processor template starts with bos
    std::string source;
};
std::unique_ptr<Tokenizer> makeBpeTokenizer(BpeSpec spec);

// A Hugging Face tokenizer.json with a byte-level BPE model, read into a BpeSpec (throws
// FileError naming the file and the field it cannot take).
BpeSpec readTokenizerJson(const std::string& path);

// llama.cpp's tokenizer.ggml.pre names (src/llama-vocab.cpp) of the patterns it implements
// as Bonsai's pre-tokenizer does, with whether llama.cpp ignores merges for that name.
struct LlamaCppPre {
    PreTokPattern pattern = PreTokPattern::Gpt2;
    bool ignoreMerges = false;
};
// The pattern llama.cpp runs for a tokenizer.ggml.pre value; nullopt for other names.
std::optional<LlamaCppPre> llamaCppPre(std::string_view name);
// The name GGUF exports write for a pattern: "gpt-2", "llama-bpe", "qwen2"; empty for None
// (llama.cpp always splits byte-level BPE text with a regex).
std::string_view llamaCppPreName(PreTokPattern pattern);

// A SentencePiece tokenizer over bonsai_spm's processor (core/src/tokenizer/spm.h). bos/eos are the ids
// callers should use (-1: none). Throws FileError(errorPath, ...) if the processor rejects the
// vocabulary (unigram model, unknown id out of range, corrupt character map).
std::unique_ptr<Tokenizer> makeSentencePiece(spm::Vocabulary vocab, const std::string& errorPath,
                                             std::string source, int32_t bos, int32_t eos);

} // namespace bonsai::detail
