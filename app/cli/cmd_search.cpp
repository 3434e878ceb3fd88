// bonsai-cli search: the per-layer configuration that fits a budget best (bonsai/search.h),
// measured, solved, evaluated for real and written as a recipe.
#include "commands.h"
#include "format.h"

#include "bonsai/dataset.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/provenance.h"
#include "bonsai/recipe.h"
#include "bonsai/search.h"
#include "bonsai/tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace cli {

namespace {

struct RealMetric {
    double kl = 0, metric = 0, baseMetric = 0;
    uint64_t compressedBytes = 0, originalBytes = 0;
};

RealMetric evaluateConfigs(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs,
                           const std::string& data, int ctx, int64_t limit)
{
    RealMetric m;
    if (bonsai::isLanguageModel(model)) {
        bonsai::LanguageModel lm(model);
        const auto tokens = lm.tokenizer().encode(bonsai::readTextFile(data));
        bonsai::PerplexityOptions o;
        o.ctx = ctx;
        o.maxChunks = limit;
        const auto r = lm.perplexity(tokens, configs, o);
        m = {r.kl, r.perplexity, r.basePerplexity, r.compressedBytes, r.originalBytes};
    } else {
        auto ds = bonsai::openDataset(data.empty() ? bonsai::defaultDatasetPath() : data);
        bonsai::EvalOptions o;
        o.limit = limit;
        o.quickSamples = 0;
        bonsai::Evaluator ev(model, *ds, o);
        const auto r = ev.evaluate(configs);
        m = {r.metrics.meanKl, r.metrics.top1, ev.reference().metrics.top1, r.compressedBytes, r.originalBytes};
    }
    return m;
}

std::string metricText(bool lm, double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, lm ? "%.4f" : "%.2f%%", lm ? v : 100 * v);
    return buf;
}

} // namespace

int cmdSearch(const Args& in)
{
    Args args = in;
    const char* usage =
        "bonsai-cli search MODEL [--match REGEX] (--budget-bpw B | --budget-bytes N | --max-kl X | --max-drop D |\n"
        "       --budget-latency-ms MS) [--minimize kl|metric] [--latency]\n"
        "       [--dataset D | --text F] [--calib F] [--samples N] [--ctx N] [--limit N] [--recipe R.json]\n"
        "       [--candidates C.json] [--tie qkv,gate_up] [--target gguf|onnx|safetensors-packed] [--hull-only]\n"
        "       [--no-cache] [--cache DIR] --out R.json [--force] [--json]";
    const bool asJson = takeFlag(args, "--json");
    const bool noCache = takeFlag(args, "--no-cache");
    const bool hullOnly = takeFlag(args, "--hull-only");
    const bool latency = takeFlag(args, "--latency");
    const bool force = takeFlag(args, "--force");
    std::string match, bpw, bytes, maxKl, maxDrop, latencyMs, dataset, text, calib, samples = "0", ctx = "128", limit = "0",
                                                                     recipePath, candidatesPath, tie, target, cacheDir,
                                                                     out, minimize = "kl";
    takeOption(args, "--match", match);
    takeOption(args, "--budget-bpw", bpw);
    takeOption(args, "--budget-bytes", bytes);
    takeOption(args, "--max-kl", maxKl);
    takeOption(args, "--max-drop", maxDrop);
    takeOption(args, "--budget-latency-ms", latencyMs);
    takeOption(args, "--dataset", dataset);
    takeOption(args, "--text", text);
    takeOption(args, "--calib", calib);
    takeOption(args, "--samples", samples);
    takeOption(args, "--ctx", ctx);
    takeOption(args, "--limit", limit);
    takeOption(args, "--recipe", recipePath);
    takeOption(args, "--candidates", candidatesPath);
    takeOption(args, "--tie", tie);
    takeOption(args, "--target", target);
    takeOption(args, "--cache", cacheDir);
    takeOption(args, "--out", out);
    takeOption(args, "--minimize", minimize);
    expectPositional(args, 1, usage);

    bonsai::SearchBudget budget;
    int budgets = 0;
    auto number = [&](const std::string& opt, const std::string& v, bonsai::BudgetKind kind) {
        if (v.empty())
            return;
        ++budgets;
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end || !(x >= 0) || !std::isfinite(x))
            throw UsageError(opt + " takes a non-negative number, not \"" + v + "\"");
        budget = {kind, x};
    };
    number("--budget-bpw", bpw, bonsai::BudgetKind::BitsPerWeight);
    number("--budget-bytes", bytes, bonsai::BudgetKind::Bytes);
    number("--max-kl", maxKl, bonsai::BudgetKind::MaxKl);
    number("--max-drop", maxDrop, bonsai::BudgetKind::MaxDrop);
    number("--budget-latency-ms", latencyMs, bonsai::BudgetKind::LatencyMs);
    if (budgets != 1)
        throw UsageError(
            std::string("give exactly one of --budget-bpw, --budget-bytes, --max-kl, --max-drop, --budget-latency-ms\nusage: ") +
            usage);
    if (out.empty())
        throw UsageError(std::string("--out R.json is required\nusage: ") + usage);
    // Under a size or latency budget: the summed KL (default) or the summed metric change
    // (accuracy drop, perplexity rise), the quantity a comparison on that metric judges.
    if (minimize != "kl" && minimize != "metric")
        throw UsageError("--minimize takes kl or metric, not \"" + minimize + "\"");
    budget.objective = minimize == "metric" ? bonsai::SearchObjective::Metric : bonsai::SearchObjective::Kl;
    if (!dataset.empty() && !text.empty())
        throw UsageError("give --dataset (a classifier) or --text (a language model), not both");
    if (!bonsai::isSearchTarget(target))
        throw UsageError("--target must be gguf, onnx or safetensors-packed, not \"" + target + "\"");
    if (!force && std::filesystem::exists(out))
        throw UsageError(out + " exists (--force replaces it)");

    // Everything is checked before any work starts.
    auto model = bonsai::Model::open(args[0]);
    const bool lm = bonsai::isLanguageModel(*model);
    if (lm && text.empty())
        throw UsageError("a language model needs --text FILE (the evaluation text)");
    if (!lm && !text.empty())
        throw UsageError("--text is for language models; a classifier takes --dataset");
    const std::string data = lm ? text : (dataset.empty() ? bonsai::defaultDatasetPath() : dataset);
    bonsai::Recipe recipe = recipePath.empty() ? bonsai::Recipe() : bonsai::Recipe::load(recipePath);
    bonsai::SearchSpec spec = bonsai::SearchSpec::parse(recipe.search, recipePath.empty() ? "recipe" : recipePath);
    if (!candidatesPath.empty()) {
        const std::string c = bonsai::readTextFile(candidatesPath);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(c);
        } catch (const nlohmann::json::exception&) {
            throw bonsai::FileError(candidatesPath, "not valid JSON");
        }
        spec = bonsai::SearchSpec::parse(j.is_object() && j.contains("search") ? j["search"].dump() : c, candidatesPath);
    }
    if (!match.empty())
        spec.match = match;
    if (!tie.empty()) {
        spec.ties.clear();
        for (size_t a = 0; a <= tie.size();) {
            const size_t b = std::min(tie.find(',', a), tie.size());
            const std::string t = tie.substr(a, b - a);
            if (t != "qkv" && t != "gate_up")
                throw UsageError("--tie takes qkv and gate_up, comma-separated, not \"" + t + "\"");
            spec.ties.push_back(t);
            a = b + 1;
        }
    }
    bonsai::SensitivityOptions so;
    so.dataPath = calib.empty() ? data : calib;
    so.samples = wholeNumber("--samples", samples, 0, 1 << 24);
    so.ctx = static_cast<int>(wholeNumber("--ctx", ctx, 8, 1 << 16));
    so.target = target;
    so.cacheDir = cacheDir;
    so.useCache = !noCache;
    so.measureAll = !hullOnly;
    so.measureLatency = latency || budget.kind == bonsai::BudgetKind::LatencyMs;
    const int64_t evalLimit = wholeNumber("--limit", limit, 0, 1ll << 40);

    const auto t0 = std::chrono::steady_clock::now();
    double lastPrint = -1;
    bonsai::SensitivityTable table = bonsai::measureSensitivity(
        *model, recipe, spec, so, [&](const bonsai::SensitivityTable&, const bonsai::SensitivityProgress& p) {
            if (asJson)
                return true;
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (s - lastPrint >= 1.0 || p.fraction >= 1.0) {
                lastPrint = s;
                const double eta = p.fraction > 0.02 ? s / p.fraction - s : 0;
                std::fprintf(stderr, "\r%5.1f%%  %-56s %zu/%zu measured, %zu cached, eta %.0f s   ", 100 * p.fraction,
                             p.stage.substr(0, 56).c_str(), p.cellsDone, p.cellsTotal, p.fromCache, eta);
            }
            return true;
        });
    if (!asJson)
        std::fputc('\n', stderr);
    const double measureSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Solved, checked on the calibration data, and solved again where layers interact.
    const bonsai::RefineResult refine = bonsai::refineSearch(*model, recipe, table, budget, so, {}, spec.ties);
    const bonsai::SearchSolution& sol = refine.solution;
    if (!sol.feasible)
        throw bonsai::Error(sol.message.empty() ? "no choice of the candidates fits the budget" : sol.message);
    const auto configs = bonsai::solutionConfigs(*model, recipe, table, sol);
    const RealMetric real = evaluateConfigs(*model, configs, data, so.ctx, evalLimit);
    const auto front = bonsai::searchFront(table, 16, {}, spec.ties);

    // The recipe, with the search that made it and its provenance.
    bonsai::Recipe result = bonsai::solutionRecipe(*model, recipe, table, sol);
    result.search = spec.toJson();
    bonsai::ProvenanceCalibration pc;
    pc.path = std::filesystem::absolute(so.dataPath).string();
    pc.use = "sensitivity";
    pc.samples = so.samples;
    auto prov = bonsai::makeProvenance(*model, {pc});
    char line[256];
    const char* kind = budget.kind == bonsai::BudgetKind::BitsPerWeight ? "bits per weight"
                       : budget.kind == bonsai::BudgetKind::Bytes       ? "bytes"
                       : budget.kind == bonsai::BudgetKind::MaxKl       ? "max KL"
                       : budget.kind == bonsai::BudgetKind::LatencyMs   ? "ms latency"
                                                                        : "max drop";
    std::snprintf(line, sizeof line, "search: budget %g %s, predicted KL %.6g, %s %s", budget.value, kind,
                  sol.predictedKl, table.metricName.c_str(), metricText(lm, real.metric).c_str());
    prov.options.push_back(line);
    if (!target.empty())
        prov.options.push_back("search target " + target);
    result.provenance = prov.toJson();
    result.save(out);

    if (asJson) {
        nlohmann::ordered_json j;
        j["metric"] = table.metricName;
        j["bits_per_weight"] = sol.bitsPerWeight;
        j["bytes"] = sol.bytes;
        j["predicted_kl"] = sol.predictedKl;
        j["predicted_delta"] = sol.predictedDelta;
        j["objective"] = minimize; // what a size or latency budget minimized
        j["optimal"] = sol.optimal;
        if (so.measureLatency)
            j["latency_ms"] = sol.latencyMs; // the chosen cells' measured latencies, summed
        j["calibration_kl"] = refine.measuredKl;
        j["refine_rounds"] = refine.rounds;
        j["refine_notes"] = refine.notes;
        j["kl"] = real.kl;
        j[table.metricName] = real.metric;
        j["base_" + table.metricName] = real.baseMetric;
        j["compressed_bytes"] = real.compressedBytes;
        j["original_bytes"] = real.originalBytes;
        j["measured_cells"] = table.measuredCells();
        j["applicable_cells"] = table.applicableCells();
        j["measure_seconds"] = measureSeconds;
        auto& layers = j["layers"] = nlohmann::ordered_json::array();
        for (size_t l = 0; l < table.layers.size(); ++l) {
            const int c = sol.choices[l].candidate;
            nlohmann::ordered_json row = {{"layer", table.layers[l]},
                                          {"candidate", table.candidates[static_cast<size_t>(c)].name},
                                          {"bytes", table.cells[l][static_cast<size_t>(c)].bytes},
                                          {"kl", table.predictedKl(l, static_cast<size_t>(c))},
                                          {"explanation", sol.choices[l].explanation}};
            if (so.measureLatency) { // every candidate's measured cost
                row["latency_ms"] = table.cells[l][static_cast<size_t>(c)].latencyMs;
                auto& costs = row["costs"] = nlohmann::ordered_json::array();
                for (size_t k = 0; k < table.candidates.size(); ++k) {
                    const auto& cell = table.cells[l][k];
                    if (cell.applicable)
                        costs.push_back({{"candidate", table.candidates[k].name},
                                         {"bytes", cell.bytes},
                                         {"latency_ms", std::isfinite(cell.latencyMs) ? nlohmann::ordered_json(cell.latencyMs)
                                                                                      : nlohmann::ordered_json()}});
                }
            }
            layers.push_back(std::move(row));
        }
        auto& fr = j["front"] = nlohmann::ordered_json::array();
        for (const auto& f : front)
            fr.push_back({{"bits_per_weight", f.bitsPerWeight}, {"bytes", f.bytes}, {"predicted_kl", f.predictedKl}});
        j["recipe"] = out;
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("model:        %s, %zu layers searched, %zu candidates\n", model->path.c_str(), table.layers.size(),
                table.candidates.size());
    std::printf("sensitivity:  %zu of %zu cells measured on %s (%.1f s)\n", table.measuredCells(),
                table.applicableCells(), so.dataPath.c_str(), measureSeconds);
    std::printf("\n%-44s %-16s %12s %12s%s\n", "layer", "choice", "bytes", "KL", so.measureLatency ? "           ms" : "");
    for (size_t l = 0; l < table.layers.size(); ++l) {
        const size_t c = static_cast<size_t>(sol.choices[l].candidate);
        std::printf("%-44s %-16s %12s %12.3g", table.layers[l].c_str(), table.candidates[c].name.c_str(),
                    humanBytes(table.cells[l][c].bytes).c_str(), table.predictedKl(l, c));
        if (so.measureLatency)
            std::printf(" %12.4g", table.cells[l][c].latencyMs);
        std::fputc('\n', stdout);
    }
    std::printf("\nsearched layers: %s, %.3f bits per weight%s\n", humanBytes(sol.bytes).c_str(), sol.bitsPerWeight,
                sol.optimal ? " (optimal for the prediction)" : "");
    std::printf("predicted KL:    %.6f nats (sum of the layers'), measured on the calibration data %.6f\n",
                sol.predictedKl, refine.measuredKl);
    if (so.measureLatency)
        std::printf("latency:         %.4f ms (sum of the chosen layers' measured %s)\n", sol.latencyMs,
                    lm ? "decode matrix-vector products" : "nodes, one sample");
    if (budget.kind == bonsai::BudgetKind::MaxDrop)
        std::printf("predicted drop:  %s (sum of the layers'), measured on the calibration data %s -> %s\n",
                    lm ? (std::to_string(sol.predictedDelta)).c_str() : (std::to_string(100 * sol.predictedDelta) + " points").c_str(),
                    metricText(lm, table.baseMetric).c_str(), metricText(lm, refine.measuredMetric).c_str());
    for (const auto& n : refine.notes)
        std::printf("check:           %s\n", n.c_str());
    std::printf("measured:        %s %s (uncompressed %s), KL %.6f nats, model %s -> %s\n", table.metricName.c_str(),
                metricText(lm, real.metric).c_str(), metricText(lm, real.baseMetric).c_str(), real.kl,
                humanBytes(real.originalBytes).c_str(), humanBytes(real.compressedBytes).c_str());
    std::printf("\nfront (predicted):\n%10s %12s %12s\n", "bits/w", "bytes", "KL");
    for (const auto& f : front)
        std::printf("%10.3f %12s %12.6f\n", f.bitsPerWeight, humanBytes(f.bytes).c_str(), f.predictedKl);
    std::printf("\nrecipe:          %s\n", out.c_str());
    return 0;
}

} // namespace cli
