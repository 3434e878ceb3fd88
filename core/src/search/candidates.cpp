// The budget search's candidate lists, tied groups and the recipe's "search" object.
#include "bonsai/search.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "common/json_fault.h"

#include <nlohmann/json.hpp>

#include <regex>

namespace bonsai {

namespace {

SearchCandidate make(std::string name, std::string patchJson)
{
    return {std::move(name), ConfigPatch::fromJson(patchJson, "default candidates", "candidate")};
}

} // namespace

std::vector<SearchCandidate> defaultCandidates(const std::string& target)
{
    std::vector<SearchCandidate> c = {
        make("fp16", R"({"precision":"fp16"})"),
        make("q8_0", R"({"precision":"q8_0"})"),
        make("int8", R"({"precision":"int8","granularity":"channel"})"),
        make("q6_k", R"({"precision":"q6_k"})"),
        make("q5_k", R"({"precision":"q5_k"})"),
        make("q4_k", R"({"precision":"q4_k"})"),
        make("int4 g32", R"({"precision":"int4","granularity":"group","group_size":32})"),
        make("int4 g128", R"({"precision":"int4","granularity":"group","group_size":128})"),
        make("q3_k", R"({"precision":"q3_k"})"),
        make("int3 g32", R"({"precision":"int3","granularity":"group","group_size":32})"),
        make("q2_k", R"({"precision":"q2_k"})"),
        make("int2 g32", R"({"precision":"int2","granularity":"group","group_size":32})"),
        make("nf4", R"({"precision":"nf4"})"),
        make("2:4 int8", R"({"sparsity_pattern":"2:4","precision":"int8","granularity":"channel"})"),
        make("2:4 int4 g32", R"({"sparsity_pattern":"2:4","precision":"int4","granularity":"group","group_size":32})"),
        make("50% int8", R"({"sparsity":0.5,"sparsity_pattern":"unstructured","precision":"int8","granularity":"channel"})"),
        make("50% int4 g32", R"({"sparsity":0.5,"sparsity_pattern":"unstructured","precision":"int4","granularity":"group","group_size":32})"),
        make("rank 0.90 fp16", R"({"energy":0.90,"precision":"fp16"})"),
        make("rank 0.95 fp16", R"({"energy":0.95,"precision":"fp16"})"),
        make("rank 0.99 fp16", R"({"energy":0.99,"precision":"fp16"})"),
        make("rank 0.90 int8", R"({"energy":0.90,"precision":"int8","granularity":"channel"})"),
        make("rank 0.95 int8", R"({"energy":0.95,"precision":"int8","granularity":"channel"})"),
        make("rank 0.99 int8", R"({"energy":0.99,"precision":"int8","granularity":"channel"})"),
    };
    if (target == "gguf") {
        // The types a row that is no multiple of 256 can hold (llama-quantize's fallbacks).
        c.push_back(make("q5_1", R"({"precision":"q5_1"})"));
        c.push_back(make("q5_0", R"({"precision":"q5_0"})"));
        c.push_back(make("q4_1", R"({"precision":"q4_1"})"));
        c.push_back(make("q4_0", R"({"precision":"q4_0"})"));
    }
    return c;
}

bool isSearchTarget(const std::string& target)
{
    return target.empty() || target == "gguf" || target == "onnx" || target == "safetensors-packed";
}

std::string tieKey(const std::string& layerName, const std::vector<std::string>& ties)
{
    const auto info = llmLayerInfo(layerName);
    if (!info || info->block < 0)
        return {};
    for (const auto& t : ties) {
        const bool qkv = t == "qkv" && (info->role == LlmRole::Q || info->role == LlmRole::K || info->role == LlmRole::V);
        const bool gateUp = t == "gate_up" && (info->role == LlmRole::Gate || info->role == LlmRole::Up);
        if (qkv || gateUp)
            return t + " " + std::to_string(info->block);
    }
    return {};
}

SearchSpec SearchSpec::parse(const std::string& text, const std::string& source)
{
    using nlohmann::json;
    SearchSpec s;
    if (text.empty())
        return s;
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(source, "key 'search': not valid JSON: " + jsonFault(e));
    }
    if (!j.is_object())
        throw FileError(source, "key 'search' must be an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k == "candidates") {
            if (!it->is_array() || it->empty())
                throw FileError(source, "search: key 'candidates' must be a non-empty array of objects");
            if (it->size() > 256)
                throw FileError(source, "search: more than 256 candidates");
            for (size_t i = 0; i < it->size(); ++i) {
                const json& o = (*it)[i];
                const std::string where = "search candidate " + std::to_string(i + 1);
                if (!o.is_object())
                    throw FileError(source, where + ": must be an object");
                SearchCandidate c;
                c.patch = ConfigPatch::fromJson(o.dump(), source, where, {"name"});
                if (o.contains("name")) {
                    if (!o["name"].is_string() || o["name"].get<std::string>().empty())
                        throw FileError(source, where + ": key 'name' must be a non-empty string");
                    c.name = o["name"].get<std::string>();
                } else {
                    c.name = c.patch.toJson();
                }
                for (const auto& other : s.candidates)
                    if (other.name == c.name)
                        throw FileError(source, where + ": the name \"" + c.name + "\" is given twice");
                s.candidates.push_back(std::move(c));
            }
        } else if (k == "tie") {
            if (!it->is_array())
                throw FileError(source, "search: key 'tie' must be an array of \"qkv\" and \"gate_up\"");
            for (const json& t : *it) {
                if (!t.is_string() || (t != "qkv" && t != "gate_up"))
                    throw FileError(source, "search: key 'tie': unknown value " + t.dump() + " (qkv or gate_up)");
                s.ties.push_back(t.get<std::string>());
            }
        } else if (k == "match") {
            if (!it->is_string())
                throw FileError(source, "search: key 'match' must be a string (a regular expression over layer names)");
            s.match = it->get<std::string>();
            if (const std::string fault = matchPatternFault(s.match); !fault.empty())
                throw FileError(source, "search: key 'match' \"" + s.match.substr(0, 80) + "\" " + fault);
            try {
                std::regex test(s.match, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                throw FileError(source, "search: key 'match': invalid regular expression \"" + s.match.substr(0, 80) +
                                            "\": " + e.what());
            }
        } else {
            throw FileError(source, "search: unknown key '" + k + "' (expected candidates, tie, match)");
        }
    }
    return s;
}

std::string SearchSpec::toJson() const
{
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!candidates.empty()) {
        auto& a = j["candidates"] = nlohmann::ordered_json::array();
        for (const auto& c : candidates) {
            nlohmann::ordered_json o;
            o["name"] = c.name;
            const auto keys = nlohmann::ordered_json::parse(c.patch.toJson());
            for (auto it = keys.begin(); it != keys.end(); ++it)
                o[it.key()] = it.value();
            a.push_back(std::move(o));
        }
    }
    if (!ties.empty())
        j["tie"] = ties;
    if (!match.empty())
        j["match"] = match;
    return j.dump();
}

} // namespace bonsai
