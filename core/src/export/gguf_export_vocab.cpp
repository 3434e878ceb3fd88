// The tokenizer.ggml.* metadata of a GGUF export from a Hugging Face folder, as llama.cpp's
// converter (convert_hf_to_gguf.py) writes it:
//  - SentencePiece tokenizer.model: model "llama", pieces, scores and SentencePiece's piece
//    types, and the normalizer flags Bonsai reads back;
//  - byte-level BPE tokenizer.json: model "gpt2", the vocabulary in its byte-level form with
//    the added tokens at their ids (CONTROL when special or looking special, USER_DEFINED
//    otherwise) and unused rows up to the embedding's as "[PAD<id>]" (UNUSED), the merges as
//    "a b" strings, and tokenizer.ggml.pre: llama.cpp's name of the pre-tokenizer regex.
// The ids of bos/eos are those Bonsai evaluates the checkpoint with (Tokenizer::forModel:
// config.json over the tokenizer's own), so that the export's perplexity is the source's.
#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/tokenizer.h"
#include "common/json_fault.h"
#include "export/export_impl.h"
#include "export/gguf_file.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_impl.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace bonsai::detail {

namespace {

namespace fs = std::filesystem;

// llama.cpp's token types (gguf-py's TokenType).
enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

void addSentencePiece(GgufFileWriter& w, const fs::path& spmPath, const LlmConfig& c, std::vector<std::string>& notes)
{
    std::string error;
    const auto vocab = spm::parseModelProto(readTextFile(spmPath.string()), error);
    if (!vocab)
        throw FileError(spmPath.string(), error);
    if (static_cast<int64_t>(vocab->pieces.size()) != c.vocab)
        throw FileError(spmPath.string(), "holds " + std::to_string(vocab->pieces.size()) +
                                              " pieces, the model's embedding " + std::to_string(c.vocab) + " rows");
    std::vector<int32_t> types;
    for (spm::PieceType t : vocab->types)
        types.push_back(static_cast<int32_t>(t));
    w.addString("tokenizer.ggml.model", "llama");
    w.addString("tokenizer.ggml.pre", "default");
    w.addStrings("tokenizer.ggml.tokens", vocab->pieces);
    w.addF32s("tokenizer.ggml.scores", vocab->scores);
    w.addI32s("tokenizer.ggml.token_type", types);
    const int32_t bos = c.bosId >= 0 ? c.bosId : vocab->bosId, eos = c.eosId >= 0 ? c.eosId : vocab->eosId;
    if (bos >= 0)
        w.addU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
    if (eos >= 0)
        w.addU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    if (vocab->unkId >= 0)
        w.addU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(vocab->unkId));
    if (vocab->padId >= 0)
        w.addU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab->padId));
    // The normalizer (llama.cpp applies none for "llama" vocabularies and ignores these keys;
    // Bonsai reads them, so that its own exports tokenize as the checkpoint did).
    w.addBool("tokenizer.ggml.add_space_prefix", vocab->addDummyPrefix);
    w.addBool("tokenizer.ggml.remove_extra_whitespaces", vocab->removeExtraWhitespaces);
    if (!vocab->precompiledCharsmap.empty())
        w.addU8s("tokenizer.ggml.precompiled_charsmap", vocab->precompiledCharsmap);
    w.addBool("tokenizer.ggml.add_bos_token", true);
    w.addBool("tokenizer.ggml.add_eos_token", false);
    notes.push_back("tokenizer: SentencePiece from " + spmPath.string() + " (" + std::to_string(vocab->pieces.size()) +
                    " pieces)");
}

// The converter's does_token_look_special: added tokens some models do not mark special.
bool looksSpecial(const std::string& t)
{
    auto wraps = [&](std::string_view open, std::string_view close) {
        return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
               t.compare(t.size() - close.size(), close.size(), close) == 0;
    };
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wraps("<|", "|>") ||
           wraps("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wraps("<unused", ">");
}

// What the converter reads from tokenizer_config.json beside tokenizer.json.
struct TokenizerConfig {
    std::optional<bool> addBos;
    std::string padToken;
    std::string chatTemplate;
};

TokenizerConfig readTokenizerConfig(const fs::path& path)
{
    TokenizerConfig out;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return out;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readTextFile(path.string()));
    } catch (const nlohmann::json::exception& e) {
        throw FileError(path.string(), "not valid JSON: " + jsonFault(e));
    }
    if (!j.is_object())
        throw FileError(path.string(), "not a JSON object");
    if (const auto it = j.find("add_bos_token"); it != j.end() && !it->is_null()) {
        if (!it->is_boolean())
            throw FileError(path.string(), "add_bos_token must be true or false, not " + it->dump());
        out.addBos = it->get<bool>();
    }
    if (const auto it = j.find("pad_token"); it != j.end() && !it->is_null()) {
        const nlohmann::json& v = it->is_object() ? it->value("content", nlohmann::json()) : *it;
        if (!v.is_string())
            throw FileError(path.string(), "pad_token must be a string or an object with a string content");
        out.padToken = v.get<std::string>();
    }
    if (const auto it = j.find("chat_template"); it != j.end() && it->is_string())
        out.chatTemplate = it->get<std::string>();
    return out;
}

// config.json's integer `key`, or -1.
int32_t configId(const fs::path& dir, const char* key)
{
    std::error_code ec;
    const fs::path path = dir / "config.json";
    if (!fs::is_regular_file(path, ec))
        return -1;
    try {
        const auto j = nlohmann::json::parse(readTextFile(path.string()));
        if (j.is_object() && j.contains(key) && j[key].is_number_integer() && j[key].get<int64_t>() >= 0)
            return j[key].get<int32_t>();
    } catch (const nlohmann::json::exception& e) {
        throw FileError(path.string(), "not valid JSON: " + jsonFault(e));
    }
    return -1;
}

void addByteLevelBpe(GgufFileWriter& w, const Model& model, const fs::path& jsonPath, const LlmConfig& c,
                     std::vector<std::string>& notes)
{
    const std::string file = jsonPath.string();
    const BpeSpec spec = readTokenizerJson(file);
    const std::string_view pre = llamaCppPreName(spec.pattern);
    if (pre.empty())
        throw FileError(file, "the pre-tokenizer splits no words (ByteLevel with use_regex false): llama.cpp has no "
                              "such byte-level BPE pre-tokenizer, so the GGUF export would tokenize differently");
    const LlamaCppPre runs = *llamaCppPre(pre);
    if (runs.ignoreMerges != spec.ignoreMerges)
        throw FileError(file, std::string("model.ignore_merges is ") + (spec.ignoreMerges ? "true" : "false") +
                                  ", but llama.cpp's '" + std::string(pre) + "' pre-tokenizer, the one for this regex, " +
                                  (runs.ignoreMerges ? "always lets a whole word of the vocabulary win over the merges"
                                                     : "always applies the merges, even to a whole word of the vocabulary") +
                                  ": the GGUF export would tokenize differently");
    if (spec.addPrefixSpace)
        notes.push_back("tokenizer: ByteLevel add_prefix_space is stored as tokenizer.ggml.add_space_prefix, which "
                        "Bonsai applies and llama.cpp's BPE tokenizer does not");

    const size_t n = static_cast<size_t>(c.vocab);
    std::vector<std::string> tokens(n);
    std::vector<int32_t> types(n, kNormal);
    auto place = [&](int64_t id, const std::string& text, const char* what) {
        if (id < 0 || static_cast<size_t>(id) >= n)
            throw FileError(file, std::string(what) + " \"" + text + "\" has id " + std::to_string(id) +
                                      ", beyond the model's " + std::to_string(n) + " embedding rows");
        tokens[static_cast<size_t>(id)] = text;
    };
    for (size_t id = 0; id < spec.vocab.size(); ++id)
        if (!spec.vocab[id].empty())
            place(static_cast<int64_t>(id), spec.vocab[id], "model.vocab entry");
    size_t added = 0;
    for (const BpeSpec::Added& a : spec.added) {
        if (a.content.empty())
            throw FileError(file, "added_tokens entry " + std::to_string(a.id) + " has an empty content");
        place(a.id, a.content, "added_tokens entry");
        types[static_cast<size_t>(a.id)] = a.special || looksSpecial(a.content) ? kControl : kUserDefined;
        ++added;
    }
    size_t unused = 0;
    for (size_t id = 0; id < n; ++id)
        if (tokens[id].empty()) {
            tokens[id] = "[PAD" + std::to_string(id) + "]";
            types[id] = kUnused;
            ++unused;
        }

    std::vector<std::string> merges;
    merges.reserve(spec.merges.size());
    for (const auto& [l, r] : spec.merges) {
        if (l.find(' ') != std::string::npos || r.find(' ') != std::string::npos)
            throw FileError(file, "merge [\"" + l + "\", \"" + r + "\"] has a space inside a piece, which GGUF's "
                                  "\"a b\" merges cannot store");
        merges.push_back(l + " " + r);
    }

    // The ids Bonsai's evaluation of the checkpoint uses.
    const auto source = Tokenizer::forModel(model);
    const TokenizerConfig tc = readTokenizerConfig(jsonPath.parent_path() / "tokenizer_config.json");
    int32_t pad = -1;
    if (!tc.padToken.empty()) {
        for (size_t id = 0; id < n && pad < 0; ++id)
            if (tokens[id] == tc.padToken)
                pad = static_cast<int32_t>(id);
    }
    if (pad < 0)
        pad = configId(jsonPath.parent_path(), "pad_token_id");

    w.addString("tokenizer.ggml.model", "gpt2");
    w.addString("tokenizer.ggml.pre", std::string(pre));
    w.addStrings("tokenizer.ggml.tokens", tokens);
    w.addI32s("tokenizer.ggml.token_type", types);
    w.addStrings("tokenizer.ggml.merges", merges);
    if (source->bos() >= 0)
        w.addU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(source->bos()));
    if (source->eos() >= 0)
        w.addU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(source->eos()));
    if (spec.unk >= 0)
        w.addU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(spec.unk));
    if (pad >= 0 && static_cast<size_t>(pad) < n)
        w.addU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
    if (spec.addPrefixSpace)
        w.addBool("tokenizer.ggml.add_space_prefix", true);
    // As the converter decides: tokenizer_config.json's add_bos_token, else a post-processor
    // template that starts with BOS; neither: no key (llama.cpp's default for the name).
    if (tc.addBos || spec.templateBos)
        w.addBool("tokenizer.ggml.add_bos_token", tc.addBos ? *tc.addBos : true);
    if (!tc.chatTemplate.empty())
        w.addString("tokenizer.chat_template", tc.chatTemplate);
    notes.push_back("tokenizer: byte-level BPE from " + file + " (" + std::to_string(spec.vocab.size()) + " tokens, " +
                    std::to_string(added) + " added, " + std::to_string(unused) + " unused rows; " +
                    std::to_string(merges.size()) + " merges; pre-tokenizer '" + std::string(pre) + "')");
}

} // namespace

void addGgufTokenizer(GgufFileWriter& w, const Model& model, const std::string& dir, const LlmConfig& c,
                      std::vector<std::string>& notes)
{
    // The tokenizer Bonsai evaluates the checkpoint with (Tokenizer::forModel's preference).
    std::error_code ec;
    const fs::path folder(dir);
    if (fs::is_regular_file(folder / "tokenizer.model", ec))
        return addSentencePiece(w, folder / "tokenizer.model", c, notes);
    if (fs::is_regular_file(folder / "tokenizer.json", ec))
        return addByteLevelBpe(w, model, folder / "tokenizer.json", c, notes);
    throw FileError(dir, "GGUF export needs the checkpoint's tokenizer beside it: a SentencePiece tokenizer.model or "
                         "a byte-level BPE tokenizer.json");
}

} // namespace bonsai::detail
