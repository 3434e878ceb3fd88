// The budget search against the uniform configurations and llama.cpp's own mixes.
//
//   bench_search [--cnn] [--llm] [--llama] [--chunks N]   (default: all three; N calibration chunks)
//
// 1. The demo CNN (sensitivities on 1000 Fashion-MNIST training images, accuracy on the 10,000
//    test images) and 2. the tiny-llama fixture (sensitivities on calib.txt, perplexity of
//    eval.txt), at 4.0, 3.0 and 2.5 bits per weight: the searched configuration's measured
//    metric beside every uniform configuration (one candidate on every layer) that fits the same
//    budget, and the precision-only search (no sparsity or rank candidates) beside the joint one.
// 3. tiny-llama against llama.cpp's Q4_K_M and Q3_K_M: its llama_model_quantize (node-llama-cpp's
//    libllama) quantizes Bonsai's F32 GGUF export; the search aims at GGUF (--target gguf) with
//    the budget of the bytes llama.cpp's mix gives the same weights, once minimizing the summed
//    KL and once the summed perplexity change (sensitivities on the whole calibration text);
//    every file's perplexity is measured by llama.cpp itself (its libllama, F32 KV cache) and by
//    Bonsai. The target: the perplexity objective's file beats the mix on llama.cpp's perplexity.
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/search.h"
#include "bonsai/tokenizer.h"

#include "bench_util.h"
#include "../core/src/search/mckp.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

const std::string kSource = BONSAI_SOURCE_DIR;
const double kBudgets[] = {4.0, 3.0, 2.75};
SearchObjective gObjective = SearchObjective::Kl; // --objective-metric: minimize the perplexity change
int64_t gLlmChunks = 0; // --chunks N: calibration chunks of 128 tokens (0: the default, 16)

struct Eval {
    bool lm = false;
    std::function<double(const std::vector<LayerConfig>&)> metric; // accuracy or perplexity
    bool better(double a, double b) const { return lm ? a < b : a > b; }
    std::string text(double v) const
    {
        char buf[32];
        std::snprintf(buf, sizeof buf, lm ? "%.4f" : "%.2f%%", lm ? v : 100 * v);
        return buf;
    }
};

// Candidates without sparsity or rank.
SearchSpec precisionOnly(const SensitivityTable& t)
{
    SearchSpec s;
    for (const auto& c : t.candidates)
        if (!c.patch.sparsity && !c.patch.pattern && !c.patch.rank && !c.patch.energy)
            s.candidates.push_back(c);
    return s;
}

// The table restricted to the given candidates (same measures).
SensitivityTable restrict(const SensitivityTable& t, const SearchSpec& s)
{
    SensitivityTable r = t;
    r.candidates.clear();
    for (auto& row : r.cells)
        row.clear();
    for (size_t c = 0; c < t.candidates.size(); ++c) {
        bool keep = false;
        for (const auto& k : s.candidates)
            keep |= k.name == t.candidates[c].name;
        if (!keep)
            continue;
        r.candidates.push_back(t.candidates[c]);
        for (size_t l = 0; l < t.cells.size(); ++l)
            r.cells[l].push_back(t.cells[l][c]);
    }
    r.updateEstimateScale();
    return r;
}

uint64_t totalParams(const SensitivityTable& t)
{
    uint64_t n = 0;
    for (uint64_t p : t.params)
        n += p;
    return n;
}

// Returns true when the searched configuration is at least as good as every uniform one that
// fits, at every budget, and strictly better than the best of them at one budget at least.
bool compareUniform(const char* title, const Model& model, const SensitivityTable& table, const Eval& ev)
{
    const Recipe none;
    const double params = double(totalParams(table));
    // The uniform configurations: bits per weight and measured metric.
    struct Uniform {
        std::string name;
        double bpw;
        double metric;
    };
    std::vector<Uniform> uniform;
    for (size_t c = 0; c < table.candidates.size(); ++c) {
        double bytes = 0;
        bool all = true;
        for (size_t l = 0; l < table.layers.size(); ++l) {
            all &= table.cells[l][c].applicable;
            bytes += double(table.cells[l][c].bytes);
        }
        if (!all)
            continue;
        SearchSolution s;
        s.choices.assign(table.layers.size(), SearchChoice{static_cast<int>(c), false, {}});
        uniform.push_back({table.candidates[c].name, 8 * bytes / params, ev.metric(solutionConfigs(model, none, table, s))});
    }
    const SensitivityTable precision = restrict(table, precisionOnly(table));
    std::printf("\n%s: base %s on the calibration data, %zu layers, %zu candidates, %zu cells measured\n", title, ev.text(table.baseMetric).c_str(),
                table.layers.size(), table.candidates.size(), table.measuredCells());
    std::printf("%8s  %-28s %10s  %-24s %10s  %-22s %10s\n", "budget", "searched (bits/w)", "metric", "best uniform that fits",
                "metric", "precision-only (bits/w)", "metric");
    bool allOk = true, anyBetter = false, jointWins = false;
    for (double b : kBudgets) {
        const SearchSolution s = solveSearch(table, {BudgetKind::BitsPerWeight, b});
        const SearchSolution p = solveSearch(precision, {BudgetKind::BitsPerWeight, b});
        const double ms = s.feasible ? ev.metric(solutionConfigs(model, none, table, s)) : NAN;
        const double mp = p.feasible ? ev.metric(solutionConfigs(model, none, precision, p)) : NAN;
        const Uniform* best = nullptr;
        for (const auto& u : uniform)
            if (u.bpw <= b + 1e-9 && (!best || ev.better(u.metric, best->metric)))
                best = &u;
        char sb[64], pb[64], ub[64];
        std::snprintf(sb, sizeof sb, "predicted KL %.4f (%.3f)", s.predictedKl, s.bitsPerWeight);
        std::snprintf(pb, sizeof pb, "KL %.4f (%.3f)", p.predictedKl, p.bitsPerWeight);
        std::snprintf(ub, sizeof ub, "%s (%.3f)", best ? best->name.c_str() : "none fits", best ? best->bpw : 0.0);
        std::printf("%8.2f  %-28s %10s  %-24s %10s  %-22s %10s\n", b, sb, ev.text(ms).c_str(), ub,
                    best ? ev.text(best->metric).c_str() : "-", pb, ev.text(mp).c_str());
        if (best) {
            allOk &= !ev.better(best->metric, ms);
            anyBetter |= ev.better(ms, best->metric);
        } else {
            anyBetter |= s.feasible;
        }
        jointWins |= ev.better(ms, mp);
    }
    std::printf("searched >= every uniform configuration that fits: %s; better than the best at one budget: %s; "
                "joint beats precision-only at one budget: %s\n",
                allOk ? "yes" : "NO", anyBetter ? "yes" : "NO", jointWins ? "yes" : "no");
    // The budget (bits per weight, 0.05 apart) where the joint search's predicted KL is furthest
    // below the precision-only search's, measured.
    double bestB = 0, bestGain = 0;
    for (double b = 1.0; b <= 16.0; b += 0.05) {
        const SearchSolution s = solveSearch(table, {BudgetKind::BitsPerWeight, b});
        const SearchSolution p = solveSearch(precision, {BudgetKind::BitsPerWeight, b});
        if (!s.feasible)
            continue;
        const double gain = p.feasible ? 1 - s.predictedKl / p.predictedKl : 1.0;
        if (gain > bestGain + 1e-12) {
            bestGain = gain;
            bestB = b;
        }
    }
    if (bestGain > 0) {
        const SearchSolution s = solveSearch(table, {BudgetKind::BitsPerWeight, bestB});
        const SearchSolution p = solveSearch(precision, {BudgetKind::BitsPerWeight, bestB});
        const double ms = ev.metric(solutionConfigs(model, none, table, s));
        std::string choice;
        for (size_t l = 0; l < s.choices.size(); ++l)
            choice += (l ? ", " : "") + table.candidates[static_cast<size_t>(s.choices[l].candidate)].name;
        std::printf("largest predicted gain of the joint search: at %.2f bits/w, joint KL %.5f measured %s (%s) vs "
                    "precision-only %s\n",
                    bestB, s.predictedKl, ev.text(ms).c_str(), choice.c_str(),
                    p.feasible ? (ev.text(ev.metric(solutionConfigs(model, none, precision, p))) + " (KL " +
                                  std::to_string(p.predictedKl) + ")").c_str()
                               : "infeasible (nothing that small)");
    } else {
        std::printf("the joint search never predicts less KL than the precision-only search at any budget\n");
    }
    // Why the joint search does or does not differ: on how many layers each sparsity or rank
    // candidate is a corner of the lower convex hull of (bytes, measured KL), where a solver
    // could take it.
    std::printf("sparsity and rank candidates on a layer's (bytes, KL) lower convex hull:");
    for (size_t c = 0; c < table.candidates.size(); ++c) {
        const auto& p = table.candidates[c].patch;
        if (!p.sparsity && !p.pattern && !p.rank && !p.energy)
            continue;
        int on = 0, applicable = 0;
        for (size_t l = 0; l < table.layers.size(); ++l) {
            MckpGroup g;
            for (size_t k = 0; k < table.candidates.size(); ++k)
                g.items.push_back({table.cells[l][k].applicable ? double(table.cells[l][k].bytes) : NAN,
                                   table.predictedKl(l, k)});
            const auto hull = lowerHull(g);
            on += std::find(hull.begin(), hull.end(), static_cast<int>(c)) != hull.end();
            applicable += table.cells[l][c].applicable;
        }
        std::printf(" %s %d/%d;", table.candidates[c].name.c_str(), on, applicable);
    }
    std::printf("\n");
    return allOk && anyBetter;
}

SensitivityTable measure(const Model& model, const SensitivityOptions& o, const char* what)
{
    const double t0 = bench::now();
    size_t lastDone = 0;
    auto t = measureSensitivity(model, Recipe(), SearchSpec(), o, [&](const SensitivityTable&, const SensitivityProgress& p) {
        lastDone = p.cellsDone + p.fromCache;
        return true;
    });
    std::printf("%s: sensitivity table in %.1f s (%zu cells measured, the rest from the cache)\n", what,
                bench::now() - t0, lastDone);
    return t;
}

bool cnn()
{
    auto model = Model::open(kSource + "/resources/demo/fashion_cnn.onnx");
    SensitivityOptions o;
    o.dataPath = defaultDatasetPath();
    o.split = "train";
    o.samples = 1000;
    const SensitivityTable t = measure(*model, o, "demo CNN");
    auto test = openDataset(defaultDatasetPath());
    EvalOptions eo;
    eo.quickSamples = 0;
    Evaluator evaluator(*model, *test, eo);
    Eval ev;
    ev.metric = [&](const std::vector<LayerConfig>& c) { return evaluator.evaluate(c).metrics.top1; };
    return compareUniform("demo CNN, top-1 accuracy on the 10,000 test images", *model, t, ev);
}

std::vector<int32_t> evalTokens(const LanguageModel& lm)
{
    return lm.tokenizer().encode(readTextFile(kSource + "/tests/data/tiny-llama/eval.txt"));
}

bool llm()
{
    auto model = Model::open(kSource + "/tests/data/tiny-llama");
    SensitivityOptions o;
    o.dataPath = kSource + "/tests/data/tiny-llama/calib.txt";
    o.samples = gLlmChunks;
    const SensitivityTable t = measure(*model, o, "tiny-llama");
    LanguageModel lm(*model);
    const auto tokens = evalTokens(lm);
    Eval ev;
    ev.lm = true;
    PerplexityOptions po;
    po.compareToBase = false;
    ev.metric = [&](const std::vector<LayerConfig>& c) { return lm.perplexity(tokens, c, po).perplexity; };
    return compareUniform("tiny-llama, perplexity of eval.txt", *model, t, ev);
}

// ---------- llama.cpp's mixes ----------

struct QuantizeParams { // llama.h's llama_model_quantize_params (node-llama-cpp 3.21.1)
    int32_t nthread, ftype, outputTensorType, tokenEmbeddingType;
    bool allowRequantize, quantizeOutputTensor, onlyCopy, pure, keepSplit, dryRun;
    const void *imatrix, *kvOverrides, *ttOverrides;
    const int32_t* pruneLayers;
    size_t maxBufSize;
};
static_assert(sizeof(QuantizeParams) == 64);

std::string run(const std::string& cmd)
{
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        return out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    pclose(p);
    return out;
}

// llama.cpp's perplexity of the file on Bonsai's token ids (chunks of 128, each after BOS).
double llamaPerplexity(const std::string& gguf, const std::vector<int32_t>& tokens, int32_t bos)
{
    const std::string chunks = (fs::temp_directory_path() / "bench_search_chunks.json").string();
    nlohmann::json j = nlohmann::json::array();
    for (size_t b = 0; b + 1 < tokens.size(); b += 128) {
        std::vector<int32_t> c{bos};
        for (size_t i = b; i < std::min(tokens.size(), b + 128); ++i)
            c.push_back(tokens[i]);
        j.push_back(c);
    }
    std::ofstream(chunks) << j.dump();
    const std::string out = run("node " + kSource + "/tests/interop/llama_perplexity.mjs " + gguf + " " + chunks +
                                " --exact 2>&1");
    try {
        return nlohmann::json::parse(out.substr(out.find('{'))).at("perplexity").get<double>();
    } catch (const std::exception&) {
        std::printf("llama.cpp perplexity failed: %s\n", out.c_str());
        return NAN;
    }
}

// The bytes of the tensors of the searched layers in a GGUF file, by llama.cpp's names.
uint64_t layerBytes(const Model& gguf, const SensitivityTable& t)
{
    uint64_t b = 0;
    for (const auto& name : t.layers) {
        const auto g = ggufTensorName(name + ".weight");
        const int k = g ? gguf.findTensor(*g) : -1;
        if (k >= 0)
            b += gguf.tensors[static_cast<size_t>(k)].nbytes;
    }
    return b;
}

std::string typeCounts(const Model& gguf)
{
    std::map<std::string, int> n;
    for (const auto& t : gguf.tensors)
        if (t.shape.size() == 2)
            ++n[std::string(dtypeName(t.dtype))];
    std::string s;
    for (const auto& [k, v] : n)
        s += (s.empty() ? "" : ", ") + std::to_string(v) + " " + k;
    return s;
}

bool llamaMixes()
{
    const std::string lib = kSource + "/tests/interop/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.4.0.so";
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::printf("\nllama.cpp mixes: skipped (%s; run .ci/install-deps)\n", dlerror());
        return true;
    }
    using Defaults = QuantizeParams (*)();
    using Quantize = uint32_t (*)(const char*, const char*, const QuantizeParams*);
    const auto defaults = reinterpret_cast<Defaults>(dlsym(h, "llama_model_quantize_default_params"));
    const auto quantize = reinterpret_cast<Quantize>(dlsym(h, "llama_model_quantize"));

    auto hf = Model::open(kSource + "/tests/data/tiny-llama");
    LanguageModel lm(*hf);
    const auto tokens = evalTokens(lm);
    const int32_t bos = lm.config().bosId;
    const fs::path dir = fs::temp_directory_path() / "bench_search";
    fs::create_directories(dir);
    ExportOptions xo;
    xo.overwrite = true;
    const std::string f32 = (dir / "tiny-f32.gguf").string();
    exportModel(*hf, {}, ExportFormat::Gguf, f32, xo);

    SensitivityOptions o;
    o.dataPath = kSource + "/tests/data/tiny-llama/calib.txt";
    o.target = "gguf";
    // One layer's perplexity change is small against the noise of the default 16 chunks: the
    // mixes are compared on the whole calibration text (up to 400 chunks of 128 tokens).
    o.samples = gLlmChunks ? gLlmChunks : 400;
    const SensitivityTable t = measure(*hf, o, "tiny-llama for GGUF");
    std::printf("\n%-8s %-34s %10s %12s %12s  | %-10s %-34s %10s %12s %12s\n", "mix", "llama.cpp's types", "bytes",
                "ppl llama", "ppl Bonsai", "objective", "searched (GGUF)", "bytes", "ppl llama", "ppl Bonsai");
    bool ok = true;
    const std::pair<const char*, int> mixes[] = {{"Q4_K_M", 15}, {"Q3_K_M", 12}};
    for (const auto& [name, ftype] : mixes) {
        const std::string theirs = (dir / (std::string("tiny-") + name + ".gguf")).string();
        QuantizeParams p = defaults();
        p.nthread = 2;
        p.ftype = ftype;
        if (quantize(f32.c_str(), theirs.c_str(), &p) != 0) {
            std::printf("%s: llama_model_quantize failed\n", name);
            ok = false;
            continue;
        }
        auto tm = Model::open(theirs);
        const uint64_t budget = layerBytes(*tm, t);
        const double theirLlama = llamaPerplexity(theirs, tokens, bos);
        double theirBonsai = NAN;
        try {
            LanguageModel tl(*tm);
            PerplexityOptions po;
            po.compareToBase = false;
            theirBonsai = tl.perplexity(tokens, {}, po).perplexity;
        } catch (const Error& e) {
            std::printf("Bonsai cannot evaluate %s: %s\n", theirs.c_str(), e.what());
        }
        // llama.cpp's mix as Bonsai configurations (Bonsai's block quantizers are llama.cpp's,
        // byte for byte), for its KL to the uncompressed model on eval.txt.
        std::vector<LayerConfig> theirConfigs(hf->layers.size());
        for (size_t l = 0; l < t.layers.size(); ++l) {
            const auto g = ggufTensorName(t.layers[l] + ".weight");
            const int k = g ? tm->findTensor(*g) : -1;
            std::string type = k >= 0 ? std::string(dtypeName(tm->tensors[static_cast<size_t>(k)].dtype)) : "F32";
            for (char& ch : type)
                ch = char(std::tolower(static_cast<unsigned char>(ch)));
            if (auto prec = parsePrecision(type == "f16" ? "fp16" : type))
                theirConfigs[static_cast<size_t>(t.layerIndex[l])].precision = *prec;
        }
        PerplexityOptions withBase;
        const auto theirKl = lm.perplexity(tokens, theirConfigs, withBase);
        // Both objectives from the one table: the KL to the uncompressed model, and the
        // perplexity change that the comparison is judged on.
        for (const SearchObjective objective : {SearchObjective::Kl, SearchObjective::Metric}) {
            const char* what = objective == SearchObjective::Kl ? "KL" : "perplexity";
            SearchBudget sb{BudgetKind::Bytes, double(budget), objective};
            const SearchSolution s = solveSearch(t, sb);
            const auto configs = solutionConfigs(*hf, Recipe(), t, s);
            const std::string ours =
                (dir / (std::string("tiny-searched-") + what + "-" + name + ".gguf")).string();
            exportModel(*hf, configs, ExportFormat::Gguf, ours, xo);
            auto om = Model::open(ours);
            const double ourLlama = llamaPerplexity(ours, tokens, bos);
            const auto ourKl = lm.perplexity(tokens, configs, withBase);
            std::printf("%-8s %-34s %10llu %12.4f %12.4f  | %-10s %-34s %10llu %12.4f %12.4f\n", name,
                        typeCounts(*tm).c_str(), static_cast<unsigned long long>(budget), theirLlama, theirBonsai, what,
                        typeCounts(*om).c_str(), static_cast<unsigned long long>(layerBytes(*om, t)), ourLlama,
                        ourKl.perplexity);
            std::printf("%-8s %s objective: KL to the uncompressed model on eval.txt (Bonsai): llama.cpp's mix %.6f "
                        "(ppl %.4f), searched %.6f (ppl %.4f; predicted on the calibration text: KL %.6f, ppl change "
                        "%+.4f); uncompressed ppl %.4f\n",
                        name, what, theirKl.kl, theirKl.perplexity, ourKl.kl, ourKl.perplexity, s.predictedKl,
                        s.predictedDelta, ourKl.basePerplexity);
            // Paired over the chunks: the mean difference of the per-chunk NLL and its standard error.
            double md = 0, m2 = 0;
            const size_t n = std::min(ourKl.chunkPerplexity.size(), theirKl.chunkPerplexity.size());
            for (size_t i = 0; i < n; ++i) {
                const double d = std::log(ourKl.chunkPerplexity[i]) - std::log(theirKl.chunkPerplexity[i]);
                md += d;
                m2 += d * d;
            }
            md /= double(n);
            const double se = std::sqrt(std::max(0.0, m2 / double(n) - md * md) / double(n - 1));
            std::printf("%-8s %s objective: per-chunk NLL, searched minus llama.cpp's mix: %+.6f nats (standard error "
                        "%.6f over %zu chunks)\n",
                        name, what, md, se, n);
            const bool fits = layerBytes(*om, t) <= budget;
            if (objective == SearchObjective::Kl) {
                std::printf("%-8s KL objective: searched has the lower KL at equal or smaller size: %s\n", name,
                            fits && ourKl.kl < theirKl.kl ? "yes" : "NO");
                continue;
            }
            const bool win = fits && ourLlama < theirLlama;
            std::printf("%-8s perplexity objective: searched beats llama.cpp's mix at equal or smaller size "
                        "(llama.cpp's own perplexity): %s (file %llu vs %llu bytes)\n",
                        name, win ? "yes" : "NO", static_cast<unsigned long long>(fs::file_size(ours)),
                        static_cast<unsigned long long>(fs::file_size(theirs)));
            ok &= win;
        }
    }
    dlclose(h);
    return ok;
}

} // namespace

int main(int argc, char** argv)
{
    bool doCnn = false, doLlm = false, doLlama = false;
    for (int i = 1; i < argc; ++i) {
        doCnn |= !std::strcmp(argv[i], "--cnn");
        doLlm |= !std::strcmp(argv[i], "--llm");
        doLlama |= !std::strcmp(argv[i], "--llama");
        if (!std::strcmp(argv[i], "--objective-metric"))
            gObjective = SearchObjective::Metric;
        if (!std::strcmp(argv[i], "--chunks") && i + 1 < argc)
            gLlmChunks = std::atoll(argv[++i]);
    }
    if (!doCnn && !doLlm && !doLlama)
        doCnn = doLlm = doLlama = true;
    bool ok = true;
    try {
        if (doCnn)
            ok &= cnn();
        if (doLlm)
            ok &= llm();
        if (doLlama)
            ok &= llamaMixes();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_search: %s\n", e.what());
        return 2;
    }
    std::printf("\n%s\n", ok ? "all targets met" : "SOME TARGETS MISSED");
    return ok ? 0 : 1;
}
