// Tokenizer loaders: SentencePiece tokenizer.model files (encoded by bonsai_spm, core/src/tokenizer/spm.h: our
// own implementation of the library's BPE, since Debian's libsentencepiece cannot share a
// process with libonnx's protobuf), and the per-model choice (GGUF metadata, or the checkpoint folder's tokenizer.model / tokenizer.json with
// config.json's BOS/EOS ids).
#include "bonsai/tokenizer.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "common/json_fault.h"
#include "common/regular_file.h"
#include "tokenizer/tokenizer_impl.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace bonsai {

namespace {

namespace fs = std::filesystem;

class SentencePieceTokenizer final : public Tokenizer {
public:
    SentencePieceTokenizer(spm::Vocabulary v, std::string source, int32_t bos, int32_t eos)
        : proc_(std::move(v))
    {
        source_ = std::move(source);
        bos_ = bos;
        eos_ = eos;
    }

    std::vector<int32_t> encode(std::string_view text) const override { return proc_.encode(text); }

    std::string decode(const std::vector<int32_t>& ids) const override
    {
        // Out-of-range ids are dropped rather than failing the whole text.
        const auto n = static_cast<int32_t>(proc_.vocabulary().pieces.size());
        std::vector<int32_t> valid;
        valid.reserve(ids.size());
        for (int32_t id : ids)
            if (id >= 0 && id < n)
                valid.push_back(id);
        return proc_.decode(valid);
    }

    std::string piece(int32_t id) const override
    {
        const auto& p = proc_.vocabulary().pieces;
        return id >= 0 && static_cast<size_t>(id) < p.size() ? p[static_cast<size_t>(id)]
                                                             : std::string();
    }
    int32_t vocabSize() const override
    {
        return static_cast<int32_t>(proc_.vocabulary().pieces.size());
    }
    std::string kind() const override { return "sentencepiece"; }

private:
    spm::Processor proc_; // holds views into its own vocabulary: never moved
};

std::string readFile(const std::string& path)
{
    return readRegularFile(path, kMaxSideFileBytes, "tokenizer file");
}

} // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromSentencePiece(const std::string& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw FileError(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
    const std::string bytes = readFile(path);
    if (bytes.empty())
        throw FileError(path, "empty file, not a SentencePiece model");
    std::string error;
    auto vocab = spm::parseModelProto(bytes, error);
    if (!vocab)
        throw FileError(path, "not a valid SentencePiece model (corrupt or truncated): " + error);
    const auto n = static_cast<int32_t>(vocab->pieces.size());
    // The trainer's ids; a model trained without BOS/EOS stores -1.
    const int32_t bos = vocab->bosId >= 0 && vocab->bosId < n ? vocab->bosId : -1;
    const int32_t eos = vocab->eosId >= 0 && vocab->eosId < n ? vocab->eosId : -1;
    return detail::makeSentencePiece(std::move(*vocab), path, path, bos, eos);
}

namespace detail {

std::unique_ptr<Tokenizer> makeSentencePiece(spm::Vocabulary vocab, const std::string& errorPath,
                                             std::string source, int32_t bos, int32_t eos)
{
    if (vocab.pieces.empty())
        throw FileError(errorPath, "SentencePiece vocabulary is empty");
    try {
        return std::make_unique<SentencePieceTokenizer>(std::move(vocab), std::move(source), bos,
                                                        eos);
    } catch (const std::runtime_error& e) {
        throw FileError(errorPath, std::string("unusable SentencePiece vocabulary: ") + e.what());
    }
}

} // namespace detail

std::unique_ptr<Tokenizer> Tokenizer::forModel(const Model& model)
{
    if (model.format == Format::Gguf)
        return fromGguf(model);

    std::error_code ec;
    const fs::path p(model.path);
    const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    const std::string dirName = dir.empty() ? std::string(".") : dir.string();

    for (const char* name : {"tokenizer.model", "tokenizer.json", "config.json"})
        requireInsideFolder((dir / name).string(), dirName);
    std::unique_ptr<Tokenizer> tok;
    if (fs::exists(dir / "tokenizer.model", ec))
        tok = fromSentencePiece((dir / "tokenizer.model").string());
    else if (fs::exists(dir / "tokenizer.json", ec))
        tok = fromTokenizerJson((dir / "tokenizer.json").string());
    else
        throw FileError(dirName, "no tokenizer.model or tokenizer.json");

    // config.json states the ids the model was trained with; they win over the tokenizer's
    // own guess (e.g. Qwen2's tokenizer has no BOS but its config names <|endoftext|>).
    const fs::path configPath = dir / "config.json";
    if (fs::exists(configPath, ec)) {
        nlohmann::json config;
        try {
            config = nlohmann::json::parse(readFile(configPath.string()));
        } catch (const nlohmann::json::exception& e) {
            throw FileError(configPath.string(), "bad JSON: " + jsonFault(e));
        }
        auto idOf = [&](const char* key, int32_t& dst) {
            if (!config.is_object() || !config.contains(key))
                return;
            const auto& v = config[key];
            if (v.is_number_integer() && v.get<int64_t>() >= 0 &&
                v.get<int64_t>() < tok->vocabSize())
                dst = static_cast<int32_t>(v.get<int64_t>());
            // A list (several EOS ids, as in Llama 3.1 instruct) keeps the first.
            else if (v.is_array() && !v.empty() && v[0].is_number_integer() &&
                     v[0].get<int64_t>() >= 0 && v[0].get<int64_t>() < tok->vocabSize())
                dst = static_cast<int32_t>(v[0].get<int64_t>());
        };
        idOf("bos_token_id", tok->bos_);
        idOf("eos_token_id", tok->eos_);
    }
    return tok;
}

} // namespace bonsai
