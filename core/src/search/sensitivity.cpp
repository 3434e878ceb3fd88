// The sensitivity table: sizes and cheap estimates for every layer and candidate, then the
// true measures cell by cell (from the cache where it has them).
#include "bonsai/search.h"

#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "search/grouping.h"
#include "search/mckp.h"
#include "search/sensitivity_cache.h"
#include "search/sensitivity_meter.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

namespace bonsai {

// ---------- SensitivityTable ----------

double SensitivityTable::estimateScale() const
{
    std::vector<double> ratios;
    for (const auto& row : cells)
        for (const auto& c : row)
            if (c.applicable && c.measured() && c.estimate > 0 && c.kl > 0)
                ratios.push_back(c.kl / c.estimate);
    if (ratios.empty())
        return 1.0;
    std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
    return ratios[ratios.size() / 2];
}

double SensitivityTable::predictedKl(size_t layer, size_t candidate) const
{
    const SensitivityCell& c = cells[layer][candidate];
    const double factor = layer < interaction.size() ? interaction[layer] : 1.0;
    if (!c.applicable)
        return kNotMeasured;
    if (c.measured())
        return c.kl * factor;
    if (std::isnan(c.estimate))
        return kNotMeasured;
    // The layer's own ratio of KL to estimate where it has measures, else the model's.
    std::vector<double> ratios;
    for (const auto& o : cells[layer])
        if (o.applicable && o.measured() && o.estimate > 0 && o.kl > 0)
            ratios.push_back(o.kl / o.estimate);
    double scale = klPerEstimate;
    if (!ratios.empty()) {
        std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
        scale = ratios[ratios.size() / 2];
    }
    return c.estimate * scale * factor;
}

size_t SensitivityTable::measuredCells() const
{
    size_t n = 0;
    for (const auto& row : cells)
        for (const auto& c : row)
            n += c.applicable && c.measured();
    return n;
}

size_t SensitivityTable::applicableCells() const
{
    size_t n = 0;
    for (const auto& row : cells)
        for (const auto& c : row)
            n += c.applicable;
    return n;
}

std::string sensitivityCacheDir()
{
    namespace fs = std::filesystem;
    if (const char* d = std::getenv("BONSAI_CACHE_DIR"); d && *d)
        return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        return (fs::path(x) / "bonsai" / "sensitivity").string();
    if (const char* h = std::getenv("HOME"); h && *h)
        return (fs::path(h) / ".cache" / "bonsai" / "sensitivity").string();
    return {};
}

namespace {

// The layer's input-weighted relative squared error: sum_ij d_j (w - q)_ij^2 / sum_ij d_j w_ij^2
// over the rows x cols view (d: the inputs' mean squares per column; all ones when unknown).
double weightedError(const Model& model, int layer, const std::vector<float>& reconstructed,
                     const std::vector<double>& inputMs)
{
    uint64_t rows = 0, cols = 0;
    const auto w = layerMatrix(model, model.layers[static_cast<size_t>(layer)], rows, cols);
    const Layer& l = model.layers[static_cast<size_t>(layer)];
    std::vector<float> q(reconstructed.size());
    layoutToMatrix(model.tensors[static_cast<size_t>(l.weight)].shape, l.outAxis, reconstructed.data(), q.data());
    const bool weighted = inputMs.size() == cols;
    double num = 0, den = 0;
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c) {
            const double d = weighted ? inputMs[c] : 1.0;
            const double a = w[r * cols + c], e = a - q[r * cols + c];
            num += d * e * e;
            den += d * a * a;
        }
    return den > 0 ? num / den : (num > 0 ? 1.0 : 0.0);
}

std::string configKey(const std::string& layer, const LayerConfig& c, const std::string& target)
{
    return layer + "\n" + ConfigPatch::diff(LayerConfig{}, c).toJson() + "\n" + target;
}

// Per candidate: the bytes each searched layer takes in the export target, or why it cannot
// store it (empty reason: stored as configured).
struct TargetCell {
    bool ok = false;
    uint64_t bytes = 0;
    std::string reason;
};

std::vector<TargetCell> targetCells(const Model& model, const std::vector<LayerConfig>& configs,
                                    const std::vector<int>& searched, ExportFormat format)
{
    std::vector<TargetCell> out(searched.size());
    ExportPlan plan;
    try {
        plan = planExport(model, configs, format);
    } catch (const Error& e) {
        for (auto& c : out)
            c.reason = e.what();
        return out;
    }
    for (size_t i = 0; i < searched.size(); ++i) {
        TargetCell& c = out[i];
        c.ok = true;
        bool any = false;
        for (const auto& t : plan.tensors) {
            if (t.layer != searched[i])
                continue;
            any = true;
            c.bytes += t.bytes;
            if (t.status != StoreStatus::AsConfigured) {
                c.ok = false;
                c.reason = std::string(exportFormatName(format)) + " stores it " + t.stored + ": " + t.reason;
            }
        }
        if (!any) {
            c.ok = false;
            c.reason = std::string(exportFormatName(format)) + " does not write this layer";
        }
    }
    return out;
}

// The cells worth a true measure when not all are: per layer, those on the lower convex hull
// of (bytes, estimate) and their neighbours by size.
std::vector<std::vector<bool>> worthMeasuring(const SensitivityTable& t)
{
    std::vector<std::vector<bool>> want(t.cells.size());
    for (size_t l = 0; l < t.cells.size(); ++l) {
        want[l].assign(t.candidates.size(), false);
        MckpGroup g;
        std::vector<size_t> index;
        for (size_t c = 0; c < t.candidates.size(); ++c) {
            const auto& cell = t.cells[l][c];
            g.items.push_back({cell.applicable ? double(cell.bytes) : kNotMeasured,
                               cell.applicable ? cell.estimate : kNotMeasured});
        }
        std::vector<size_t> bySize;
        for (size_t c = 0; c < t.candidates.size(); ++c)
            if (t.cells[l][c].applicable)
                bySize.push_back(c);
        std::sort(bySize.begin(), bySize.end(),
                  [&](size_t a, size_t b) { return t.cells[l][a].bytes < t.cells[l][b].bytes; });
        for (int h : lowerHull(g)) {
            want[l][static_cast<size_t>(h)] = true;
            auto pos = std::find(bySize.begin(), bySize.end(), static_cast<size_t>(h));
            if (pos != bySize.begin())
                want[l][*(pos - 1)] = true;
            if (pos != bySize.end() && pos + 1 != bySize.end())
                want[l][*(pos + 1)] = true;
        }
    }
    return want;
}

} // namespace

SensitivityTable measureSensitivity(const Model& model, const Recipe& recipe, const SearchSpec& spec,
                                    const SensitivityOptions& options, const SensitivityCallback& callback)
{
    if (!isSearchTarget(options.target))
        throw Error("unknown search target \"" + options.target + "\" (gguf, onnx, safetensors-packed)");
    SensitivityTable t;
    t.languageModel = isLanguageModel(model);
    t.candidates = spec.candidates.empty() ? defaultCandidates(options.target) : spec.candidates;

    const std::vector<LayerConfig> configs = resolveConfigs(model, recipe);
    const std::regex match(spec.match.empty() ? std::string(".") : spec.match, std::regex::ECMAScript);
    std::vector<LayerConfig> reference = configs;
    for (size_t i = 0; i < model.layers.size(); ++i) {
        const Layer& l = model.layers[i];
        if (l.weight < 0 || !std::regex_search(l.name, match))
            continue;
        t.layers.push_back(l.name);
        t.layerIndex.push_back(static_cast<int>(i));
        t.params.push_back(model.tensors[static_cast<size_t>(l.weight)].numel);
        t.base.push_back(configs[i]);
        reference[i] = LayerConfig{};
    }
    if (t.layers.empty())
        throw Error("no layer to search" + (spec.match.empty() ? std::string() : " matches \"" + spec.match + "\""));
    for (size_t i = 0; i < t.layers.size(); ++i)
        t.baseBytes.push_back((compressLayer(model, t.layerIndex[i], t.base[i]).compressedBits + 7) / 8);

    SensitivityProgress pr;
    auto report = [&](const std::string& stage, double fraction, int layer = -1, int cand = -1) {
        t.updateEstimateScale();
        pr.stage = stage;
        pr.fraction = fraction;
        pr.layer = layer;
        pr.candidate = cand;
        if (callback && !callback(t, pr))
            throw Cancelled();
    };

    report("reading the calibration data", 0);
    std::unique_ptr<SensitivityMeter> meter =
        t.languageModel ? makeLlmMeter(model, reference, options) : makeClassifierMeter(model, reference, options);
    t.metricName = meter->metricName();
    t.baseMetric = meter->reference().metric;
    const std::string cacheDir = options.useCache ? (options.cacheDir.empty() ? sensitivityCacheDir() : options.cacheDir)
                                                  : std::string();
    t.modelHash = modelDigest(model, cacheDir);
    std::string refKey;
    for (size_t i = 0; i < reference.size(); ++i)
        if (!reference[i].isIdentity())
            refKey += model.layers[i].name + "=" + ConfigPatch::diff(LayerConfig{}, reference[i]).toJson() + ";";
    t.calibrationHash = meter->calibrationKey() + (refKey.empty() ? "" : " reference " + refKey);
    SensitivityCache cache(cacheDir, t.modelHash, t.calibrationHash);

    // Stage 1: sizes, applicability and cheap estimates.
    std::optional<ExportFormat> format;
    if (!options.target.empty())
        format = parseExportFormat(options.target);
    const size_t L = t.layers.size(), C = t.candidates.size();
    t.cells.assign(L, std::vector<SensitivityCell>(C));
    for (size_t c = 0; c < C; ++c) {
        std::vector<TargetCell> stored;
        if (format) {
            std::vector<LayerConfig> all = configs;
            for (size_t i = 0; i < L; ++i) {
                all[static_cast<size_t>(t.layerIndex[i])] = t.base[i];
                t.candidates[c].patch.applyTo(all[static_cast<size_t>(t.layerIndex[i])]);
            }
            stored = targetCells(model, all, t.layerIndex, *format);
        }
        for (size_t i = 0; i < L; ++i) {
            SensitivityCell& cell = t.cells[i][c];
            LayerConfig cfg = t.base[i];
            t.candidates[c].patch.applyTo(cfg);
            if (format && !stored[i].ok) {
                cell.reason = stored[i].reason;
                continue;
            }
            const std::string key = configKey(t.layers[i], cfg, options.target);
            if (auto hit = cache.find(key)) {
                cell.applicable = true;
                cell.bytes = hit->bytes;
                cell.estimate = hit->estimate;
                cell.kl = hit->kl;
                cell.metricDelta = hit->metric;
                ++pr.fromCache;
                continue;
            }
            try {
                std::vector<float> rec;
                const LayerResult r = compressLayer(model, t.layerIndex[i], cfg, &rec);
                cell.applicable = true;
                cell.bytes = format ? stored[i].bytes : (r.compressedBits + 7) / 8;
                cell.estimate = weightedError(model, t.layerIndex[i], rec, meter->inputMeanSquares(t.layerIndex[i]));
            } catch (const Cancelled&) {
                throw;
            } catch (const Error& e) {
                cell.reason = e.what();
            }
        }
        report("estimating: " + t.candidates[c].name, 0.05 * double(c + 1) / double(C));
    }

    // Stage 2: the true measures, layer by layer (so the Evaluator's incremental start and
    // the language model's block inputs serve every cell of a layer).
    const auto want = options.measureAll ? std::vector<std::vector<bool>>() : worthMeasuring(t);
    for (size_t i = 0; i < L; ++i)
        for (size_t c = 0; c < C; ++c)
            if (t.cells[i][c].applicable && !t.cells[i][c].measured() && (options.measureAll || want[i][c]))
                ++pr.cellsTotal;
    const MeterRun ref = meter->reference();
    const double measureShare = options.measureLatency ? 0.9 : 0.95; // of the job; timing the rest
    for (size_t i = 0; i < L; ++i) {
        for (size_t c = 0; c < C; ++c) {
            SensitivityCell& cell = t.cells[i][c];
            if (!cell.applicable || cell.measured() || !(options.measureAll || want[i][c]))
                continue;
            std::vector<LayerConfig> run = reference;
            LayerConfig& cfg = run[static_cast<size_t>(t.layerIndex[i])];
            cfg = t.base[i];
            t.candidates[c].patch.applyTo(cfg);
            const MeterRun m = meter->run(run, t.layerIndex[i]);
            cell.kl = std::max(0.0, m.kl);
            cell.metricDelta = m.metric - ref.metric;
            cache.put(configKey(t.layers[i], cfg, options.target), {cell.bytes, cell.estimate, cell.kl, cell.metricDelta});
            ++pr.cellsDone;
            try {
                report("measuring " + t.layers[i] + ": " + t.candidates[c].name,
                       0.05 + measureShare * double(pr.cellsDone) / double(std::max<size_t>(1, pr.cellsTotal)),
                       static_cast<int>(i), static_cast<int>(c));
            } catch (const Cancelled&) {
                cache.save();
                throw;
            }
        }
    }
    cache.save();
    if (options.measureLatency)
        measureLatencyCosts(model, t, options, [&](const SensitivityTable& table, const SensitivityProgress& p) {
            // The measurement's counts stay; the stage and the fraction are the timing's share.
            SensitivityProgress whole = pr;
            whole.stage = p.stage;
            whole.fraction = 0.05 + measureShare + (0.95 - measureShare) * p.fraction;
            whole.layer = p.layer;
            whole.candidate = p.candidate;
            return !callback || callback(table, whole);
        });
    report("done", 1.0);
    return t;
}

RefineResult refineSearch(const Model& model, const Recipe& recipe, SensitivityTable& t, const SearchBudget& budget,
                          const SensitivityOptions& options, const std::vector<int>& pins,
                          const std::vector<std::string>& ties, double threshold, int rounds)
{
    RefineResult out;
    out.solution = solveSearch(t, budget, pins, ties);
    out.predictedKl = out.solution.predictedKl;
    if (!out.solution.feasible)
        return out;
    std::vector<LayerConfig> reference = resolveConfigs(model, recipe);
    for (int i : t.layerIndex)
        reference[static_cast<size_t>(i)] = LayerConfig{};
    std::unique_ptr<SensitivityMeter> meter =
        t.languageModel ? makeLlmMeter(model, reference, options) : makeClassifierMeter(model, reference, options);
    // Groups of interacting layers: a transformer block, or two consecutive classifier layers.
    const auto groups = groupInOrder(t.layers.size(), [&](size_t l) {
        const auto info = llmLayerInfo(t.layers[l]);
        const int block = t.languageModel && info ? info->block : static_cast<int>(l / 2);
        return block < 0 ? std::string() : std::to_string(block);
    });
    if (t.interaction.size() != t.layers.size())
        t.interaction.assign(t.layers.size(), 1.0);
    auto configsOf = [&](const SearchSolution& s, const std::vector<size_t>* only) {
        std::vector<LayerConfig> c = reference;
        for (size_t l = 0; l < t.layers.size(); ++l) {
            if (only && std::find(only->begin(), only->end(), l) == only->end())
                continue;
            LayerConfig& x = c[static_cast<size_t>(t.layerIndex[l])];
            x = t.base[l];
            t.candidates[static_cast<size_t>(s.choices[l].candidate)].patch.applyTo(x);
        }
        return c;
    };
    for (;;) {
        const MeterRun m = meter->run(configsOf(out.solution, nullptr), -1);
        out.measuredKl = m.kl;
        out.measuredMetric = m.metric;
        const double predicted = out.solution.predictedKl;
        const double miss = predicted > 0 ? std::abs(m.kl - predicted) / std::max(m.kl, predicted) : 0.0;
        char line[160];
        std::snprintf(line, sizeof line, "round %d: predicted KL %.6g, measured %.6g (%.0f%% apart)", out.rounds,
                      predicted, m.kl, 100 * miss);
        out.notes.push_back(line);
        if (miss <= threshold || out.rounds >= rounds)
            break;
        for (const auto& g : groups) {
            if (g.size() < 2)
                continue;
            double sum = 0;
            for (size_t l : g)
                sum += t.predictedKl(l, static_cast<size_t>(out.solution.choices[l].candidate));
            // One block's layers (or a classifier's pair): the run starts at the first of them.
            const double joint = meter->run(configsOf(out.solution, &g), t.layerIndex[g.front()]).kl;
            if (sum > 0 && joint > 0)
                for (size_t l : g)
                    t.interaction[l] *= joint / sum;
        }
        out.solution = solveSearch(t, budget, pins, ties);
        ++out.rounds;
        if (!out.solution.feasible)
            break;
    }
    return out;
}

} // namespace bonsai
