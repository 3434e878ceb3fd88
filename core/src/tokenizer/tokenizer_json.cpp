// Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, Llama 3, Qwen2) into a
// BpeSpec for the engine in tokenizer_bpe.cpp.
//
// What is read: model.vocab / merges ("a b" strings or [a, b] pairs) / ignore_merges /
// unk_token; added_tokens (content, id, special); the pre-tokenizer (ByteLevel alone = GPT-2's
// regex, or a Split with one of the known regexes followed by ByteLevel); BOS/EOS from the
// post-processor's template or, failing that, conventional added-token names. An NFC
// normalizer (Qwen2) is accepted and not applied: input text is assumed to be NFC already.
#include "bonsai/error.h"
#include "common/json_fault.h"
#include "common/regular_file.h"
#include "tokenizer/tokenizer_impl.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>

namespace bonsai {

namespace {

using nlohmann::json;
using detail::BpeSpec;
using detail::PreTokPattern;

// Pre-tokenizers flattened out of a "Sequence".
void collectPreTokenizers(const json& j, std::vector<const json*>& out)
{
    if (!j.is_object())
        return;
    if (j.value("type", "") == "Sequence" && j.contains("pretokenizers")) {
        for (const auto& p : j["pretokenizers"])
            collectPreTokenizers(p, out);
        return;
    }
    out.push_back(&j);
}

void checkNormalizer(const json& n, const std::string& path)
{
    if (n.is_null())
        return;
    const std::string type = n.value("type", "");
    if (type == "Sequence") {
        for (const auto& x : n.value("normalizers", json::array()))
            checkNormalizer(x, path);
        return;
    }
    if (type != "NFC")
        throw FileError(path, "unsupported normalizer \"" + type +
                                  "\" for a byte-level BPE tokenizer (only NFC is accepted)");
}

// The special token before (BOS) and after (EOS) the sequence in a TemplateProcessing
// post-processor's "single" template, as ids.
void templateIds(const json& pp, BpeSpec& spec, int32_t& bos, int32_t& eos)
{
    if (!pp.is_object())
        return;
    const std::string type = pp.value("type", "");
    if (type == "Sequence") {
        for (const auto& p : pp.value("processors", json::array()))
            templateIds(p, spec, bos, eos);
        return;
    }
    if (type != "TemplateProcessing" || !pp.contains("single") || !pp["single"].is_array())
        return;
    auto idOf = [&](const std::string& name) -> int32_t {
        const auto& st = pp.value("special_tokens", json::object());
        if (st.contains(name) && st[name].contains("ids") && !st[name]["ids"].empty() &&
            st[name]["ids"][0].is_number_integer()) {
            const int64_t id = st[name]["ids"][0].get<int64_t>();
            if (id < 0 || id > INT32_MAX)
                throw FileError(spec.source, "post_processor: special token '" + name + "' has id " +
                                                 std::to_string(id) + ", not a token id");
            return static_cast<int32_t>(id);
        }
        for (const auto& a : spec.added)
            if (a.content == name)
                return a.id;
        return -1;
    };
    bool seenSequence = false;
    for (const auto& item : pp["single"]) {
        if (item.contains("Sequence")) {
            seenSequence = true;
        } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id")) {
            const int32_t id = idOf(item["SpecialToken"]["id"].get<std::string>());
            (seenSequence ? eos : bos) = id;
            if (!seenSequence)
                spec.templateBos = id >= 0;
        }
    }
}

} // namespace

detail::BpeSpec detail::readTokenizerJson(const std::string& path)
{
    const std::string text = readRegularFile(path, kMaxSideFileBytes, "tokenizer.json");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(path, "not valid JSON: " + jsonFault(e));
    }

    BpeSpec spec;
    spec.source = path;
    // The field being read, named when a value has the wrong type.
    std::string field = "model";
    try {
        if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
            throw FileError(path, "no \"model\" object (not a Hugging Face tokenizer.json)");
        const json& model = j["model"];
        const std::string type = model.value("type", "");
        if (type != "BPE")
            throw FileError(path, "unsupported tokenizer model type \"" + type +
                                      "\" (only byte-level BPE is supported)");
        if (!model.contains("vocab") || !model["vocab"].is_object())
            throw FileError(path, "BPE model has no vocab object");

        // Ids are dense: each below the vocabulary's size (so that memory follows the file).
        const json& vocab = model["vocab"];
        for (const auto& [piece, idv] : vocab.items()) {
            field = "model.vocab[\"" + piece + "\"]";
            const auto idv64 = jsonInt64(idv);
            if (!idv64)
                throw FileError(path, field + ": id " + idv.dump() + " is not an integer");
            const int64_t id = *idv64;
            if (id < 0 || static_cast<uint64_t>(id) >= vocab.size())
                throw FileError(path, "vocab id " + std::to_string(id) + " of \"" + piece +
                                          "\" is outside the vocabulary of " + std::to_string(vocab.size()) +
                                          " entries");
            if (static_cast<size_t>(id) >= spec.vocab.size())
                spec.vocab.resize(static_cast<size_t>(id) + 1);
            spec.vocab[static_cast<size_t>(id)] = piece;
        }
        field = "model.merges";
        for (const auto& m : model.value("merges", json::array())) {
            if (m.is_string()) {
                const std::string s = m.get<std::string>();
                const size_t sp = s.find(' ', 1);
                if (sp == std::string::npos)
                    throw FileError(path, "merge \"" + s + "\" is not two pieces");
                spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
            } else if (m.is_array() && m.size() == 2) {
                spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
            } else {
                throw FileError(path, "merge " + m.dump() + " is not two pieces");
            }
        }
        field = "model.ignore_merges";
        spec.ignoreMerges = model.value("ignore_merges", false);

        // Added tokens extend the vocabulary: ids below its size plus their count.
        const json added = j.value("added_tokens", json::array());
        field = "added_tokens";
        const uint64_t idLimit = spec.vocab.size() + added.size();
        for (size_t k = 0; k < added.size(); ++k) {
            const json& a = added.at(k);
            field = "added_tokens[" + std::to_string(k) + "]";
            BpeSpec::Added t;
            t.content = a.at("content").get<std::string>();
            const auto id64 = jsonInt64(a.at("id"));
            if (!id64)
                throw FileError(path, field + ": id " + a.at("id").dump() + " is not an integer");
            const int64_t id = *id64;
            if (id < 0 || static_cast<uint64_t>(id) >= idLimit)
                throw FileError(path, field + ": id " + std::to_string(id) + " is outside the " +
                                          std::to_string(idLimit) + " ids of the vocabulary and added tokens");
            t.id = static_cast<int32_t>(id);
            t.special = a.value("special", false);
            spec.added.push_back(std::move(t));
        }
        field = "model.unk_token";
        if (model.contains("unk_token") && model["unk_token"].is_string()) {
            const std::string unk = model["unk_token"].get<std::string>();
            for (size_t id = 0; id < spec.vocab.size(); ++id)
                if (spec.vocab[id] == unk)
                    spec.unk = static_cast<int32_t>(id);
        }

        field = "normalizer";
        checkNormalizer(j.value("normalizer", json()), path);

        field = "pre_tokenizer";
        const json preTokenizer = j.value("pre_tokenizer", json()); // outlives the pointers
        std::vector<const json*> pre;
        collectPreTokenizers(preTokenizer, pre);
        bool byteLevel = false, split = false;
        spec.pattern = PreTokPattern::None;
        for (const json* p : pre) {
            const std::string ptype = p->value("type", "");
            if (ptype == "ByteLevel") {
                byteLevel = true;
                spec.addPrefixSpace = p->value("add_prefix_space", false);
                if (!split && p->value("use_regex", true))
                    spec.pattern = PreTokPattern::Gpt2;
            } else if (ptype == "Split") {
                if (split || byteLevel)
                    throw FileError(path, "unsupported pre-tokenizer sequence (Split must come "
                                          "once, before ByteLevel)");
                const json pat = p->value("pattern", json::object());
                if (!pat.contains("Regex"))
                    throw FileError(path, "unsupported Split pre-tokenizer pattern " + pat.dump() +
                                              " (only the GPT-2 and Llama 3 / Qwen2 regexes)");
                const std::string regex = pat["Regex"].get<std::string>();
                bool ok = false;
                spec.pattern = detail::preTokPatternByRegex(regex, &ok);
                if (!ok)
                    throw FileError(path, "unsupported pre-tokenizer regex \"" + regex +
                                              "\" (only the GPT-2 and Llama 3 / Qwen2 regexes)");
                if (p->value("behavior", "Isolated") != "Isolated" || p->value("invert", false))
                    throw FileError(path, "unsupported Split pre-tokenizer behaviour (only "
                                          "Isolated, not inverted)");
                split = true;
            } else {
                throw FileError(path, "unsupported pre-tokenizer \"" + ptype +
                                          "\" (byte-level BPE needs ByteLevel, optionally "
                                          "after a Split)");
            }
        }
        if (!byteLevel)
            throw FileError(path, "BPE model without a ByteLevel pre-tokenizer (only byte-level "
                                  "BPE is supported)");

        field = "post_processor";
        templateIds(j.value("post_processor", json()), spec, spec.bos, spec.eos);
        for (const int32_t id : {spec.bos, spec.eos})
            if (id >= 0 && static_cast<uint64_t>(id) >= idLimit)
                throw FileError(path, "post_processor: special token id " + std::to_string(id) +
                                          " is outside the " + std::to_string(idLimit) + " ids of the vocabulary");
        // Without a template, conventional names. Qwen2 and GPT-2 have no BOS token of their
        // own (bos() = -1); their config.json names <|endoftext|>, which forModel applies.
        auto byName = [&](std::initializer_list<const char*> names) -> int32_t {
            for (const char* n : names)
                for (const auto& a : spec.added)
                    if (a.content == n)
                        return a.id;
            return -1;
        };
        if (spec.bos < 0)
            spec.bos = byName({"<|begin_of_text|>", "<s>", "<|startoftext|>", "<bos>"});
        if (spec.eos < 0)
            spec.eos = byName({"<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>"});
    } catch (const json::exception& e) {
        throw FileError(path, "field '" + field + "': " + jsonFault(e));
    }
    return spec;
}

std::unique_ptr<Tokenizer> Tokenizer::fromTokenizerJson(const std::string& path)
{
    return detail::makeBpeTokenizer(detail::readTokenizerJson(path));
}

} // namespace bonsai
