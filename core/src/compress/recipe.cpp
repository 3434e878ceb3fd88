#include "bonsai/recipe.h"

#include "common/atomic_file.h"
#include "common/json_fault.h"
#include "common/regular_file.h"
#include "bonsai/error.h"
#include "bonsai/model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>

namespace bonsai {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// ---------- ConfigPatch ----------

void ConfigPatch::applyTo(LayerConfig& c) const
{
    if (precision) c.precision = *precision;
    if (granularity) c.granularity = *granularity;
    if (groupSize) c.groupSize = *groupSize;
    if (symmetric) c.symmetric = *symmetric;
    if (clipSearch) c.clipSearch = *clipSearch;
    if (sparsity) c.sparsity = *sparsity;
    if (pattern) c.pattern = *pattern;
    if (n) c.n = *n;
    if (m) c.m = *m;
    if (scope) c.scope = *scope;
    if (channelNorm) c.channelNorm = *channelNorm;
    if (rank) { c.rank = *rank; c.energy = 0; }
    if (energy) { c.energy = *energy; c.rank = 0; }
    if (method) c.method = *method;
    if (calibSamples) c.calibSamples = *calibSamples;
    if (damping) c.damping = *damping;
    if (actOrder) c.actOrder = *actOrder;
}

bool ConfigPatch::empty() const
{
    return !precision && !granularity && !groupSize && !symmetric && !clipSearch && !sparsity &&
           !pattern && !n && !m && !scope && !channelNorm && !rank && !energy && !method && !calibSamples &&
           !damping && !actOrder;
}

ConfigPatch ConfigPatch::diff(const LayerConfig& a, const LayerConfig& b)
{
    ConfigPatch p;
    if (!(a.precision == b.precision)) p.precision = b.precision;
    if (a.granularity != b.granularity) p.granularity = b.granularity;
    if (a.groupSize != b.groupSize) p.groupSize = b.groupSize;
    if (a.symmetric != b.symmetric) p.symmetric = b.symmetric;
    if (a.clipSearch != b.clipSearch) p.clipSearch = b.clipSearch;
    if (a.sparsity != b.sparsity) p.sparsity = b.sparsity;
    if (a.pattern != b.pattern || (b.pattern == SparsityPattern::NM && (a.n != b.n || a.m != b.m))) {
        p.pattern = b.pattern;
        p.n = b.n;
        p.m = b.m;
    }
    if (a.scope != b.scope) p.scope = b.scope;
    if (a.channelNorm != b.channelNorm) p.channelNorm = b.channelNorm;
    if (a.rank != b.rank || a.energy != b.energy) {
        if (b.energy > 0)
            p.energy = b.energy;
        else
            p.rank = b.rank;
    }
    if (a.method != b.method) p.method = b.method;
    if (a.calibSamples != b.calibSamples) p.calibSamples = b.calibSamples;
    if (a.damping != b.damping) p.damping = b.damping;
    if (a.actOrder != b.actOrder) p.actOrder = b.actOrder;
    return p;
}

// ---------- parsing ----------

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& where, const std::string& what)
{
    throw FileError(source, where + ": " + what);
}

std::string expectString(const json& v, const std::string& source, const std::string& where, const char* key)
{
    if (!v.is_string())
        fail(source, where, std::string("key '") + key + "' must be a string, not " + v.dump());
    return v.get<std::string>();
}

bool expectBool(const json& v, const std::string& source, const std::string& where, const char* key)
{
    if (!v.is_boolean())
        fail(source, where, std::string("key '") + key + "' must be true or false, not " + v.dump());
    return v.get<bool>();
}

double expectNumber(const json& v, const std::string& source, const std::string& where, const char* key)
{
    if (!v.is_number())
        fail(source, where, std::string("key '") + key + "' must be a number, not " + v.dump());
    return v.get<double>();
}

int64_t expectInt(const json& v, const std::string& source, const std::string& where, const char* key)
{
    if (!v.is_number_integer())
        fail(source, where, std::string("key '") + key + "' must be an integer, not " + v.dump());
    return v.get<int64_t>();
}

ConfigPatch parsePatch(const json& obj, const std::string& source, const std::string& where, bool allowMatch,
                       const std::vector<std::string>& ignored = {})
{
    if (!obj.is_object())
        fail(source, where, "must be an object");
    ConfigPatch p;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if ((k == "match" && allowMatch) || std::find(ignored.begin(), ignored.end(), k) != ignored.end()) {
            continue;
        } else if (k == "precision") {
            const auto s = expectString(v, source, where, "precision");
            auto prec = parsePrecision(s);
            if (!prec)
                fail(source, where, "key 'precision': unknown value \"" + s +
                                        "\" (fp32 fp16 bf16 fp8_e4m3 fp8_e5m2 int2..int8 nf4 q8_0 q4_0 q4_1 q5_0 "
                                        "q5_1 q2_k q3_k q4_k q5_k q6_k)");
            p.precision = *prec;
        } else if (k == "granularity") {
            const auto s = expectString(v, source, where, "granularity");
            if (s == "tensor") p.granularity = Granularity::PerTensor;
            else if (s == "channel") p.granularity = Granularity::PerChannel;
            else if (s == "group") p.granularity = Granularity::Group;
            else fail(source, where, "key 'granularity': unknown value \"" + s + "\" (tensor, channel or group)");
        } else if (k == "group_size") {
            const auto g = expectInt(v, source, where, "group_size");
            if (g < 1 || g > (1 << 20))
                fail(source, where, "key 'group_size' must be between 1 and 1048576, not " + v.dump());
            p.groupSize = static_cast<uint32_t>(g);
        } else if (k == "symmetric") {
            p.symmetric = expectBool(v, source, where, "symmetric");
        } else if (k == "clip_search") {
            p.clipSearch = expectBool(v, source, where, "clip_search");
        } else if (k == "sparsity") {
            const double s = expectNumber(v, source, where, "sparsity");
            if (!(s >= 0 && s < 1))
                fail(source, where, "key 'sparsity' must be a fraction in [0, 1), not " + v.dump());
            p.sparsity = s;
        } else if (k == "sparsity_pattern") {
            const auto s = expectString(v, source, where, "sparsity_pattern");
            int n = 0, m = 0;
            char tail = 0;
            if (s == "unstructured") {
                p.pattern = SparsityPattern::Unstructured;
            } else if (s == "channels") {
                p.pattern = SparsityPattern::Channels;
            } else if (std::sscanf(s.c_str(), "%d:%d%c", &n, &m, &tail) == 2 && n >= 1 && m > n && m <= 64) {
                p.pattern = SparsityPattern::NM;
                p.n = n;
                p.m = m;
            } else {
                fail(source, where, "key 'sparsity_pattern': unknown value \"" + s +
                                        "\" (unstructured, channels, or N:M such as 2:4 with 0 < N < M <= 64)");
            }
        } else if (k == "sparsity_scope") {
            const auto s = expectString(v, source, where, "sparsity_scope");
            if (s == "layer") p.scope = SparsityScope::Layer;
            else if (s == "global") p.scope = SparsityScope::Global;
            else fail(source, where, "key 'sparsity_scope': unknown value \"" + s + "\" (layer or global)");
        } else if (k == "channel_norm") {
            const auto s = expectString(v, source, where, "channel_norm");
            if (s == "l1") p.channelNorm = ChannelNorm::L1;
            else if (s == "l2") p.channelNorm = ChannelNorm::L2;
            else fail(source, where, "key 'channel_norm': unknown value \"" + s + "\" (l1 or l2)");
        } else if (k == "rank") {
            const auto r = expectInt(v, source, where, "rank");
            if (r < 0 || r > (1 << 24))
                fail(source, where, "key 'rank' must be a non-negative integer (0: full rank), not " + v.dump());
            p.rank = static_cast<int>(r);
        } else if (k == "energy") {
            const double e = expectNumber(v, source, where, "energy");
            if (!(e > 0 && e <= 1))
                fail(source, where, "key 'energy' must be a fraction in (0, 1], not " + v.dump());
            p.energy = e;
        } else if (k == "method") {
            const auto s = expectString(v, source, where, "method");
            const auto m = parseMethod(s);
            if (!m)
                fail(source, where, "key 'method': unknown value \"" + s + "\" (rtn, gptq or awq)");
            p.method = *m;
        } else if (k == "calibration_samples") {
            const auto c = expectInt(v, source, where, "calibration_samples");
            if (c < 1 || c > (1 << 24))
                fail(source, where, "key 'calibration_samples' must be an integer between 1 and 16777216, not " + v.dump());
            p.calibSamples = static_cast<int>(c);
        } else if (k == "damping") {
            const double d = expectNumber(v, source, where, "damping");
            if (!(d >= 0 && d <= 1))
                fail(source, where, "key 'damping' must be a number in [0, 1], not " + v.dump());
            p.damping = d;
        } else if (k == "act_order") {
            p.actOrder = expectBool(v, source, where, "act_order");
        } else {
            fail(source, where, "unknown key '" + k + "'");
        }
    }
    if (p.rank && p.energy && *p.rank > 0)
        fail(source, where, "keys 'rank' and 'energy' are alternatives: give one");
    return p;
}

ojson patchJson(const ConfigPatch& p)
{
    ojson j = ojson::object();
    if (p.precision) j["precision"] = precisionName(*p.precision);
    if (p.granularity)
        j["granularity"] = *p.granularity == Granularity::PerTensor ? "tensor"
                           : *p.granularity == Granularity::PerChannel ? "channel" : "group";
    if (p.groupSize) j["group_size"] = *p.groupSize;
    if (p.symmetric) j["symmetric"] = *p.symmetric;
    if (p.clipSearch) j["clip_search"] = *p.clipSearch;
    if (p.sparsity) j["sparsity"] = *p.sparsity;
    if (p.pattern) {
        if (*p.pattern == SparsityPattern::NM)
            j["sparsity_pattern"] = std::to_string(p.n.value_or(2)) + ":" + std::to_string(p.m.value_or(4));
        else
            j["sparsity_pattern"] = *p.pattern == SparsityPattern::Channels ? "channels" : "unstructured";
    }
    if (p.scope) j["sparsity_scope"] = *p.scope == SparsityScope::Global ? "global" : "layer";
    if (p.channelNorm) j["channel_norm"] = *p.channelNorm == ChannelNorm::L1 ? "l1" : "l2";
    if (p.rank) j["rank"] = *p.rank;
    if (p.energy) j["energy"] = *p.energy;
    if (p.method) j["method"] = std::string(methodName(*p.method));
    if (p.calibSamples) j["calibration_samples"] = *p.calibSamples;
    if (p.damping) j["damping"] = *p.damping;
    if (p.actOrder) j["act_order"] = *p.actOrder;
    return j;
}

} // namespace

ConfigPatch ConfigPatch::fromJson(const std::string& text, const std::string& source, const std::string& where,
                                  const std::vector<std::string>& ignored)
{
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(source, where + ": not valid JSON: " + jsonFault(e));
    }
    return parsePatch(j, source, where, false, ignored);
}

std::string ConfigPatch::toJson() const
{
    return patchJson(*this).dump();
}

namespace {

std::string escapeRegex(const std::string& s)
{
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos)
            out += '\\';
        out += c;
    }
    return out;
}

// Why a rule's `match` cannot be used, or empty. std::regex matches by backtracking, with a
// recursion per step: a repeated group that itself repeats or alternates ("(.*)*",
// "(a|ab)+") takes time exponential in the layer name's length, and deep nesting overflows
// the stack while compiling. Such patterns are refused; layer-name patterns never need them.
} // namespace

std::string matchPatternFault(const std::string& re)
{
    constexpr size_t kMaxLength = 1024;
    constexpr int kMaxDepth = 16;
    if (re.size() > kMaxLength)
        return "is longer than " + std::to_string(kMaxLength) + " characters";
    struct Group {
        size_t start;
        bool repeats = false; // holds a quantifier or an alternation
    };
    std::vector<Group> open;
    bool topRepeats = false;
    bool afterQuantifier = false; // the previous token was *, +, ? or {m,n}
    for (size_t i = 0; i < re.size(); ++i) {
        const char c = re[i];
        const bool quantifier = c == '*' || c == '+' || c == '{' || (c == '?' && i > 0 && re[i - 1] != '(');
        // A quantifier on a quantifier (".**", "a+{2}", "x?*") repeats a repetition, as a
        // repeated group does; "*?" and "+?" (lazy) are one quantifier.
        if (afterQuantifier && quantifier && c != '?')
            return "repeats the repetition \"" + re.substr(i > 1 ? i - 2 : 0, i > 1 ? 3 : i + 1) +
                   "\" (matching could take exponential time)";
        afterQuantifier = quantifier && !(c == '?' && afterQuantifier);
        if (c == '{') { // its bounds: to the closing brace
            while (i + 1 < re.size() && re[i] != '}')
                ++i;
        }
        if (c == '\\') {
            ++i;
            continue;
        }
        if (c == '[') { // a class: to its closing bracket
            size_t j = i + 1;
            if (j < re.size() && re[j] == '^')
                ++j;
            if (j < re.size() && re[j] == ']')
                ++j;
            while (j < re.size() && re[j] != ']')
                j += re[j] == '\\' ? 2 : 1;
            i = j;
            continue;
        }
        bool& repeats = open.empty() ? topRepeats : open.back().repeats;
        if (c == '(') {
            if (open.size() >= static_cast<size_t>(kMaxDepth))
                return "nests groups more than " + std::to_string(kMaxDepth) + " deep";
            open.push_back({i});
        } else if (c == ')' && !open.empty()) {
            const Group g = open.back();
            open.pop_back();
            const char next = i + 1 < re.size() ? re[i + 1] : '\0';
            if (g.repeats && (next == '*' || next == '+' || next == '{'))
                return "repeats the group \"" + re.substr(g.start, i - g.start + 2) +
                       "\", which itself repeats or alternates (matching could take exponential time)";
            if (!open.empty())
                open.back().repeats |= g.repeats;
            if (next == '*' || next == '+' || next == '{' || next == '?')
                (open.empty() ? topRepeats : open.back().repeats) = true;
        } else if (c == '*' || c == '+' || c == '{' || c == '|' || (c == '?' && i > 0 && re[i - 1] != '(')) {
            repeats = true;
        }
    }
    return {};
}

Recipe Recipe::parse(const std::string& text, const std::string& source)
{
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(source, "not valid JSON: " + jsonFault(e));
    }
    if (!j.is_object())
        throw FileError(source, "a recipe must be a JSON object");
    if (!j.contains("bonsai_recipe"))
        throw FileError(source, "missing key 'bonsai_recipe' (the recipe format version, 1)");
    if (!j["bonsai_recipe"].is_number_integer() || j["bonsai_recipe"].get<int64_t>() != kVersion)
        throw FileError(source, "key 'bonsai_recipe': unsupported version " + j["bonsai_recipe"].dump() +
                                    " (this Bonsai reads version 1)");
    Recipe r;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k == "bonsai_recipe" || k == "description")
            continue;
        if (k == "provenance") {
            if (!it->is_object())
                throw FileError(source, "key 'provenance' must be an object");
            r.provenance = it->dump();
            continue;
        }
        if (k == "search") {
            if (!it->is_object())
                throw FileError(source, "key 'search' must be an object");
            r.search = it->dump();
            continue;
        }
        if (k == "defaults") {
            r.defaults = parsePatch(it.value(), source, "defaults", false);
        } else if (k == "rules") {
            if (!it->is_array())
                throw FileError(source, "key 'rules' must be an array");
            for (size_t i = 0; i < it->size(); ++i) {
                const json& rule = (*it)[i];
                const std::string where = "rule " + std::to_string(i + 1);
                if (!rule.is_object())
                    fail(source, where, "must be an object");
                if (!rule.contains("match"))
                    fail(source, where, "missing key 'match' (a regular expression over layer names)");
                RecipeRule rr;
                rr.match = expectString(rule["match"], source, where, "match");
                if (const std::string fault = matchPatternFault(rr.match); !fault.empty())
                    fail(source, where, "key 'match' \"" + rr.match.substr(0, 80) + "\" " + fault);
                try {
                    std::regex test(rr.match, std::regex::ECMAScript);
                } catch (const std::regex_error& e) {
                    fail(source, where, "key 'match': invalid regular expression \"" + rr.match + "\": " + e.what());
                }
                rr.patch = parsePatch(rule, source, where, true);
                r.rules.push_back(std::move(rr));
            }
        } else {
            throw FileError(source, "unknown key '" + k + "' (expected bonsai_recipe, defaults, rules, search, provenance)");
        }
    }
    return r;
}

Recipe Recipe::load(const std::string& path)
{
    return parse(readRegularFile(path, uint64_t(64) << 20, "recipe"), path);
}

std::string Recipe::toJson() const
{
    ojson j;
    j["bonsai_recipe"] = kVersion;
    j["defaults"] = patchJson(defaults);
    ojson rs = ojson::array();
    for (const auto& r : rules) {
        ojson o;
        o["match"] = r.match;
        const ojson keys = patchJson(r.patch);
        for (auto it = keys.begin(); it != keys.end(); ++it)
            o[it.key()] = it.value();
        rs.push_back(std::move(o));
    }
    j["rules"] = std::move(rs);
    if (!search.empty())
        j["search"] = ojson::parse(search);
    if (!provenance.empty())
        j["provenance"] = ojson::parse(provenance);
    return j.dump(2) + "\n";
}

void Recipe::save(const std::string& path) const
{
    const std::string text = toJson();
    AtomicFile f(path);
    f.write(text.data(), text.size());
    f.commit();
}

LayerConfig Recipe::resolve(const std::string& layerName) const
{
    LayerConfig c;
    defaults.applyTo(c);
    for (const auto& r : rules)
        if (std::regex_search(layerName, std::regex(r.match, std::regex::ECMAScript)))
            r.patch.applyTo(c);
    return c;
}

std::vector<std::string> Recipe::warnings(const Model& model) const
{
    std::vector<std::string> out;
    for (size_t i = 0; i < rules.size(); ++i) {
        const std::regex re(rules[i].match, std::regex::ECMAScript);
        bool any = false;
        for (const auto& l : model.layers)
            if (std::regex_search(l.name, re)) {
                any = true;
                break;
            }
        if (!any)
            out.push_back("rule " + std::to_string(i + 1) + " (match \"" + rules[i].match + "\") matches no layer");
    }
    return out;
}

Recipe Recipe::fromConfigs(const std::vector<std::string>& names, const std::vector<LayerConfig>& configs,
                           const LayerConfig& base)
{
    Recipe r;
    r.defaults = ConfigPatch::diff(LayerConfig{}, base);
    for (size_t i = 0; i < names.size() && i < configs.size(); ++i) {
        ConfigPatch p = ConfigPatch::diff(base, configs[i]);
        if (!p.empty())
            r.rules.push_back({"^" + escapeRegex(names[i]) + "$", std::move(p)});
    }
    return r;
}

} // namespace bonsai
