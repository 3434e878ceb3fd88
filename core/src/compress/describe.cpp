#include "bonsai/describe.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

namespace bonsai {

namespace {

std::string pct(double fraction)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g%%", fraction * 100);
    return buf;
}

} // namespace

std::string describe(const LayerConfig& c)
{
    std::string s = precisionName(c.precision);
    const bool usesGranularity = c.precision.kind == PrecisionKind::Int ||
                                 c.precision.kind == PrecisionKind::FP8_E4M3 ||
                                 c.precision.kind == PrecisionKind::FP8_E5M2;
    if (usesGranularity) {
        switch (c.granularity) {
        case Granularity::PerTensor: s += " per tensor"; break;
        case Granularity::PerChannel: s += " per channel"; break;
        case Granularity::Group: s += " group " + std::to_string(c.groupSize); break;
        }
        if (c.precision.kind == PrecisionKind::Int && !c.symmetric)
            s += " asym";
        if (c.clipSearch)
            s += " clip";
        if (c.precision.kind == PrecisionKind::Int && c.method != QuantMethod::RTN) {
            s += " ";
            s += methodName(c.method);
            if (c.method == QuantMethod::GPTQ && c.actOrder)
                s += " act-order";
        }
    }
    char buf[64];
    if (c.pattern == SparsityPattern::NM) {
        s += ", " + std::to_string(c.n) + ":" + std::to_string(c.m) + " sparse";
    } else if (c.sparsity > 0) {
        std::snprintf(buf, sizeof buf, ", %.0f%% %s%s", c.sparsity * 100,
                      c.pattern == SparsityPattern::Channels ? "channels pruned" : "unstructured",
                      c.scope == SparsityScope::Global ? " (global)" : "");
        s += buf;
    }
    if (c.rank > 0) {
        s += ", rank " + std::to_string(c.rank);
    } else if (c.energy > 0) {
        std::snprintf(buf, sizeof buf, ", energy %.3g", c.energy);
        s += buf;
    }
    return s;
}

std::string shortPrecision(const LayerConfig& c)
{
    if (c.precision.kind == PrecisionKind::FP32)
        return "unchanged";
    std::string s = precisionName(c.precision);
    if (c.precision.kind == PrecisionKind::Int) {
        if (c.granularity == Granularity::Group)
            s += " g" + std::to_string(c.groupSize);
        else if (c.granularity == Granularity::PerTensor)
            s += " tensor";
        if (!c.symmetric)
            s += " asym";
        if (c.method != QuantMethod::RTN)
            s += " " + std::string(methodName(c.method));
    }
    return s;
}

std::string shortSparsity(const LayerConfig& c)
{
    if (c.pattern == SparsityPattern::NM)
        return std::to_string(c.n) + ":" + std::to_string(c.m);
    if (c.sparsity <= 0)
        return "—";
    std::string s = c.pattern == SparsityPattern::Channels ? pct(c.sparsity) + " channels" : pct(c.sparsity);
    if (c.scope == SparsityScope::Global)
        s += " (global)";
    return s;
}

std::string shortRank(const LayerConfig& c)
{
    if (c.rank > 0)
        return std::to_string(c.rank);
    if (c.energy > 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g%% energy", c.energy * 100);
        return buf;
    }
    return "—";
}

std::string configSummary(const std::vector<LayerConfig>& configs)
{
    if (std::all_of(configs.begin(), configs.end(), [](const auto& c) { return c.isIdentity(); }))
        return "uncompressed";
    std::map<std::string, int> counts;
    for (const auto& c : configs)
        ++counts[c.isIdentity() ? std::string("unchanged") : describe(c)];
    if (counts.size() == 1) {
        const size_t n = configs.size();
        return counts.begin()->first + (n == 1 ? " (the only layer)" : " (all " + std::to_string(n) + " layers)");
    }
    std::vector<std::pair<int, std::string>> byCount;
    for (const auto& [text, n] : counts)
        byCount.emplace_back(n, text);
    std::stable_sort(byCount.begin(), byCount.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string out;
    for (size_t i = 0; i < byCount.size() && i < 3; ++i)
        out += (i ? ", " : "") + std::to_string(byCount[i].first) + "× " + byCount[i].second;
    if (byCount.size() > 3)
        out += ", …";
    return out;
}

std::string runLabel(const std::vector<LayerConfig>& configs)
{
    std::map<std::string, int> counts;
    int compressed = 0;
    for (const auto& c : configs) {
        if (c.precision.kind == PrecisionKind::FP32 && c.sparsity == 0 && c.rank == 0 && c.energy == 0)
            continue;
        ++compressed;
        if (c.precision.kind != PrecisionKind::Int)
            continue;
        std::string method(methodName(c.method));
        std::transform(method.begin(), method.end(), method.begin(), [](unsigned char ch) { return std::toupper(ch); });
        const std::string group = c.granularity == Granularity::Group        ? "g" + std::to_string(c.groupSize)
                                  : c.granularity == Granularity::PerChannel ? "per channel"
                                                                             : "per tensor";
        ++counts[method + " " + precisionName(c.precision) + " " + group];
    }
    if (compressed == 0)
        return "uncompressed";
    if (counts.empty())
        return std::to_string(compressed) + (compressed == 1 ? " compressed layer" : " compressed layers");
    const auto best = std::max_element(counts.begin(), counts.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    const int others = compressed - best->second;
    return others > 0 ? best->first + " (+" + std::to_string(others) + " other)" : best->first;
}

} // namespace bonsai
