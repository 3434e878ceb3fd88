// Tokenizers from GGUF metadata (the tokenizer.ggml.* keys written by llama.cpp's converters).
//
//  - "llama": a SentencePiece BPE vocabulary (tokens, scores, token_type with SentencePiece's
//    numbering: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) for
//    bonsai_spm's processor (core/src/tokenizer/spm.h). GGUF files carry no normalizer for Llama models
//    (llama.cpp applies none), so the default is the identity with a dummy prefix (tokenizer.ggml.add_space_prefix, default true);
//    tokenizer.ggml.remove_extra_whitespaces and tokenizer.ggml.precompiled_charsmap, when
//    present, are passed through.
//  - "gpt2": byte-level BPE from tokens + merges, the pre-tokenizer regex chosen by
//    tokenizer.ggml.pre; control (3) and user-defined (4) tokens are matched verbatim like
//    Hugging Face added tokens, and control tokens are skipped by decode.
#include "bonsai/error.h"
#include "formats/gguf.h"
#include "bonsai/model.h"
#include "tokenizer/tokenizer_impl.h"

namespace bonsai {

namespace {

enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4,
                           kUnused = 5, kByte = 6 };

// A token id key (bos/eos/unknown): -1 when absent; refused when not an integer or outside
// the vocabulary.
int32_t optionalId(const GgufMetadata& md, const char* key, size_t n, const std::string& path)
{
    const auto v = md.requireTypedInt(key, path);
    if (!v)
        return -1;
    if (*v < 0 || static_cast<uint64_t>(*v) >= n)
        throw FileError(path, std::string("metadata key '") + key + "' is " + std::to_string(*v) +
                                  ", outside the vocabulary of " + std::to_string(n) + " tokens");
    return static_cast<int32_t>(*v);
}

// tokenizer.ggml.token_type: one number per token (nullopt when absent).
std::optional<std::vector<int64_t>> tokenTypes(const GgufMetadata& md, size_t n, const std::string& path)
{
    const GgufValue* t = md.requireTypedNumbers("tokenizer.ggml.token_type", n, path);
    if (!t)
        return std::nullopt;
    return t->toInts();
}

std::unique_ptr<Tokenizer> sentencePieceFromGguf(const GgufMetadata& md,
                                                 const std::vector<std::string>& tokens,
                                                 const std::string& path, std::string source)
{
    const size_t n = tokens.size();
    std::vector<float> scores(n, 0.0f);
    if (const GgufValue* s = md.requireTypedNumbers("tokenizer.ggml.scores", n, path))
        scores = s->toFloats();
    const std::vector<int64_t> types = tokenTypes(md, n, path).value_or(std::vector<int64_t>(n, kNormal));

    const int32_t bos = optionalId(md, "tokenizer.ggml.bos_token_id", n, path);
    const int32_t eos = optionalId(md, "tokenizer.ggml.eos_token_id", n, path);
    const int32_t unk = optionalId(md, "tokenizer.ggml.unknown_token_id", n, path);

    spm::Vocabulary v;
    v.modelType = 2; // BPE
    v.pieces = tokens;
    v.scores = scores;
    v.types.resize(n);
    int32_t firstUnk = -1;
    for (size_t i = 0; i < n; ++i) {
        const int64_t t = types[i] >= kNormal && types[i] <= kByte ? types[i] : kNormal;
        v.types[i] = static_cast<spm::PieceType>(t);
        v.byteFallback |= t == kByte;
        if (t == kUnknown && firstUnk < 0)
            firstUnk = static_cast<int32_t>(i);
    }
    v.unkId = unk >= 0 ? unk : firstUnk;
    if (v.unkId < 0)
        throw FileError(path, "SentencePiece vocabulary in GGUF metadata has no unknown token");
    v.bosId = bos;
    v.eosId = eos;
    if (const GgufValue* c = md.find("tokenizer.ggml.precompiled_charsmap")) {
        if (!c->isArray() || (c->elemType != GgufType::U8 && c->elemType != GgufType::I8))
            throw FileError(path, "metadata key 'tokenizer.ggml.precompiled_charsmap' is " + ggufTypeText(*c) +
                                      ", not an array of bytes");
        v.precompiledCharsmap.assign(c->raw.begin(), c->raw.end());
    }
    v.addDummyPrefix = md.requireTypedBool("tokenizer.ggml.add_space_prefix", path).value_or(true);
    v.removeExtraWhitespaces = md.requireTypedBool("tokenizer.ggml.remove_extra_whitespaces", path).value_or(false);
    v.escapeWhitespaces = true;
    return detail::makeSentencePiece(std::move(v), path, std::move(source), bos, eos);
}

std::unique_ptr<Tokenizer> bpeFromGguf(const GgufMetadata& md,
                                       const std::vector<std::string>& tokens,
                                       const std::string& path, std::string source)
{
    detail::BpeSpec spec;
    spec.source = std::move(source);
    const size_t n = tokens.size();
    spec.vocab = tokens;
    const auto* merges = md.requireTypedStrings("tokenizer.ggml.merges", path);
    if (!merges)
        throw FileError(path, "tokenizer.ggml.model is \"gpt2\" but tokenizer.ggml.merges is "
                              "missing");
    spec.merges.reserve(merges->size());
    for (const auto& m : *merges) {
        const size_t sp = m.find(' ', 1);
        if (sp == std::string::npos)
            throw FileError(path, "tokenizer.ggml.merges entry \"" + m + "\" is not two pieces");
        spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    if (const auto types = tokenTypes(md, n, path)) {
        for (size_t i = 0; i < n; ++i)
            if (((*types)[i] == kControl || (*types)[i] == kUserDefined) && !tokens[i].empty())
                spec.added.push_back({tokens[i], static_cast<int32_t>(i), (*types)[i] == kControl});
    }

    // Files from before the key existed use GPT-2's regex.
    const std::string pre = md.requireTypedString("tokenizer.ggml.pre", path).value_or("default");
    const auto known = detail::llamaCppPre(pre);
    if (!known)
        throw FileError(path, "unsupported tokenizer.ggml.pre \"" + pre +
                                  "\" (supported: gpt2/default, llama-bpe/llama3, qwen2)");
    spec.pattern = known->pattern;
    spec.ignoreMerges = known->ignoreMerges; // as llama.cpp does for this pre-tokenizer
    spec.addPrefixSpace = md.requireTypedBool("tokenizer.ggml.add_space_prefix", path).value_or(false);
    spec.unk = optionalId(md, "tokenizer.ggml.unknown_token_id", n, path);
    spec.bos = optionalId(md, "tokenizer.ggml.bos_token_id", n, path);
    spec.eos = optionalId(md, "tokenizer.ggml.eos_token_id", n, path);
    return detail::makeBpeTokenizer(std::move(spec));
}

} // namespace

namespace detail {

std::optional<LlamaCppPre> llamaCppPre(std::string_view name)
{
    if (name == "llama-bpe" || name == "llama3" || name == "llama-v3")
        return LlamaCppPre{PreTokPattern::Llama3, true};
    if (name == "qwen2")
        return LlamaCppPre{PreTokPattern::Qwen2, false};
    if (name == "gpt2" || name == "default" || name == "gpt-2")
        return LlamaCppPre{PreTokPattern::Gpt2, false};
    return std::nullopt;
}

std::string_view llamaCppPreName(PreTokPattern pattern)
{
    switch (pattern) {
    case PreTokPattern::Gpt2: return "gpt-2";
    case PreTokPattern::Llama3: return "llama-bpe";
    case PreTokPattern::Qwen2: return "qwen2";
    case PreTokPattern::None: break;
    }
    return "";
}

} // namespace detail

std::unique_ptr<Tokenizer> Tokenizer::fromGguf(const Model& model)
{
    const GgufMetadata* md = ggufMetadata(model);
    if (!md)
        throw FileError(model.path, "not a GGUF model: no GGUF tokenizer metadata");
    const auto kind = md->requireTypedString("tokenizer.ggml.model", model.path);
    if (!kind)
        throw FileError(model.path, "GGUF metadata has no tokenizer (tokenizer.ggml.model missing)");
    const auto* tokens = md->requireTypedStrings("tokenizer.ggml.tokens", model.path);
    if (!tokens || tokens->empty())
        throw FileError(model.path, "GGUF metadata has no tokenizer.ggml.tokens");
    std::string source = "GGUF metadata of " + model.path;
    if (*kind == "llama")
        return sentencePieceFromGguf(*md, *tokens, model.path, std::move(source));
    if (*kind == "gpt2")
        return bpeFromGguf(*md, *tokens, model.path, std::move(source));
    throw FileError(model.path, "unsupported tokenizer.ggml.model \"" + *kind +
                                    "\" (supported: llama, gpt2)");
}

} // namespace bonsai
