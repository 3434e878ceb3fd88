#pragma once
// Tokenizers of language-model checkpoints.
//
//  - SentencePiece (`tokenizer.model`, Llama 1/2, Mistral): encoded by bonsai_spm (core/src/tokenizer/spm.h),
//    our implementation of the SentencePiece library's BPE (Debian's libsentencepiece cannot
//    share a process with libonnx's protobuf).
//  - Byte-level BPE (`tokenizer.json` with a "BPE" model and a ByteLevel pre-tokenizer, as
//    used by Llama 3, Qwen2/Qwen2.5 and GPT-2): our own implementation of the Hugging Face
//    tokenizers algorithm (pre-tokenizer regex split, byte-to-unicode map, merges by rank,
//    added/special tokens matched first).
//  - GGUF: the vocabulary in the file's metadata (tokenizer.ggml.model "llama" = SentencePiece
//    with scores and token types; "gpt2" = byte-level BPE with tokenizer.ggml.merges).
//
// encode() never adds BOS/EOS; callers add bos() themselves (the perplexity protocol runs
// [BOS] + chunk).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bonsai {

class Model;

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Token ids of `text`, without BOS or EOS.
    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    // Text of the ids (special tokens such as BOS are skipped).
    virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
    // The piece string of one id as stored in the vocabulary (e.g. "▁the", "<0x0A>", "Ġthe").
    virtual std::string piece(int32_t id) const = 0;

    virtual int32_t vocabSize() const = 0;
    // -1 when the tokenizer has none. Byte-level BPE without a BOS token of its own (Qwen2,
    // GPT-2) has -1 unless the checkpoint's config.json names one (forModel).
    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; } // -1 when the tokenizer has none
    // "sentencepiece", "bpe" (byte-level BPE), for display.
    virtual std::string kind() const = 0;
    // Where the tokenizer came from (a file path, or "GGUF metadata of <file>").
    const std::string& source() const { return source_; }

    // Loaders. Each throws FileError naming the file and the fault.
    static std::unique_ptr<Tokenizer> fromSentencePiece(const std::string& tokenizerModelPath);
    static std::unique_ptr<Tokenizer> fromTokenizerJson(const std::string& tokenizerJsonPath);
    // From a GGUF model's metadata (throws FileError when it has no usable tokenizer).
    static std::unique_ptr<Tokenizer> fromGguf(const Model& model);
    // For a model: GGUF metadata, or the checkpoint folder's tokenizer.model (preferred when
    // present) or tokenizer.json. BOS/EOS ids come from the tokenizer, overridden by the
    // folder's config.json bos_token_id / eos_token_id when present.
    static std::unique_ptr<Tokenizer> forModel(const Model& model);

protected:
    int32_t bos_ = -1;
    int32_t eos_ = -1;
    std::string source_;
};

// The pre-tokenizer split used by byte-level BPE, for tests and display: `pattern` is "gpt2",
// "llama3" (numbers in 1-3 digit groups) or "qwen2" (single digits). Throws Error otherwise.
std::vector<std::string> byteLevelPreTokenize(std::string_view text, std::string_view pattern);

} // namespace bonsai
