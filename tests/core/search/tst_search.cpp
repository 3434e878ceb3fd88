// The budget search (bonsai/search.h) on the tiny-llama fixture and the demo CNN:
//  - candidates: the default list, the recipe's "search" object (parse, refusals naming the
//    key, round trip);
//  - sensitivity: every measured cell's KL and perplexity equal those of a whole perplexity
//    run with only that layer compressed (LanguageModel::perplexity, whose KL is checked
//    against a NumPy float64 forward pass in tst_llm_reference), so the incremental start
//    from the block inputs changes nothing; a classifier cell's KL is the Evaluator's with
//    only that layer compressed; bytes are compressLayer's; with the GGUF target, bytes are
//    the GGUF block sizes by formula and what GGUF cannot store is left out with a reason;
//  - the cache: a second run measures nothing and gives the same table; other calibration
//    misses it; a corrupt cache file is ignored;
//  - the solver: against brute force over every combination of the measured table, for size
//    budgets, quality bounds, ties and pins;
//  - the recipe written for a solution gives exactly the solution's configurations.
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/search.h"
#include "bonsai/tokenizer.h"

#include "search_brute.h"
#include "testutil.h"

#include <QtTest>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>

using namespace bonsai;
using testutil::bruteForce;
using testutil::Brute;
using testutil::singles;
namespace fs = std::filesystem;

namespace {

const char* kThree = R"({"candidates":[{"name":"q8_0","precision":"q8_0"},
    {"name":"int4 g32","precision":"int4","granularity":"group","group_size":32},
    {"name":"int2 g32","precision":"int2","granularity":"group","group_size":32}]})";

} // namespace

class TstSearch : public QObject {
    Q_OBJECT

    std::unique_ptr<Model> llm_;
    std::string calib_, cache_;

    SensitivityOptions llmOptions(int64_t chunks = 2) const
    {
        SensitivityOptions o;
        o.dataPath = calib_;
        o.samples = chunks;
        o.cacheDir = cache_;
        return o;
    }

private slots:
    void initTestCase()
    {
        llm_ = Model::open(testutil::dataPath("tiny-llama"));
        calib_ = testutil::dataPath("tiny-llama/calib.txt");
        cache_ = testutil::tempPath("sensitivity-cache");
    }

    void defaultList()
    {
        const auto c = defaultCandidates();
        QCOMPARE(c.size(), size_t(23));
        std::set<std::string> names;
        for (const auto& x : c)
            names.insert(x.name);
        QCOMPARE(names.size(), c.size());
        // Each default candidate changes something, and the rank ones keep the energy asked.
        for (const auto& x : c) {
            LayerConfig cfg;
            x.patch.applyTo(cfg);
            QVERIFY2(!cfg.isIdentity(), x.name.c_str());
        }
        LayerConfig r;
        c[18].patch.applyTo(r); // "rank 0.95 fp16"
        QCOMPARE(c[18].name, std::string("rank 0.95 fp16"));
        QCOMPARE(r.energy, 0.95);
        QVERIFY(r.precision.kind == PrecisionKind::FP16);
        QCOMPARE(defaultCandidates("gguf").size(), size_t(27));
    }

    void specParse()
    {
        const SearchSpec s = SearchSpec::parse(
            R"({"candidates":[{"name":"a","precision":"int4","granularity":"group","group_size":64},{"precision":"q8_0"}],
                "tie":["qkv"],"match":"mlp"})",
            "r.json");
        QCOMPARE(s.candidates.size(), size_t(2));
        QCOMPARE(s.candidates[0].name, std::string("a"));
        QCOMPARE(*s.candidates[0].patch.groupSize, uint32_t(64));
        QCOMPARE(s.candidates[1].name, std::string(R"({"precision":"q8_0"})"));
        QCOMPARE(s.ties, std::vector<std::string>{"qkv"});
        QCOMPARE(s.match, std::string("mlp"));
        const SearchSpec back = SearchSpec::parse(s.toJson(), "again");
        QCOMPARE(back.toJson(), s.toJson());

        // In a recipe: kept through parse and save.
        const Recipe r = Recipe::parse(R"({"bonsai_recipe":1,"search":)" + s.toJson() + "}", "r.json");
        QCOMPARE(SearchSpec::parse(Recipe::parse(r.toJson(), "saved").search, "saved").toJson(), s.toJson());

        auto refused = [](const char* json, const char* words) {
            try {
                SearchSpec::parse(json, "r.json");
            } catch (const FileError& e) {
                const std::string m = e.what();
                return m.find("r.json") != std::string::npos && m.find(words) != std::string::npos;
            }
            return false;
        };
        QVERIFY(refused(R"({"budget":3})", "unknown key 'budget'"));
        QVERIFY(refused(R"({"candidates":[{"precision":"int9"}]})", "search candidate 1"));
        QVERIFY(refused(R"({"candidates":[{"name":"x","precision":"int8"},{"name":"x","precision":"int4"}]})",
                        "given twice"));
        QVERIFY(refused(R"({"candidates":[]})", "non-empty"));
        QVERIFY(refused(R"({"tie":["qk"]})", "qkv or gate_up"));
        QVERIFY(refused("{\"match\":\"[a\"}", "invalid regular expression"));
        QVERIFY(refused("{\"match\":\"(.*)*x\"}", "key 'match'"));
    }

    void llmCellsEqualWholeRuns()
    {
        const SearchSpec spec = SearchSpec::parse(kThree, "test");
        const SensitivityTable t = measureSensitivity(*llm_, Recipe(), spec, llmOptions());
        QVERIFY(t.languageModel);
        QCOMPARE(t.layers.size(), size_t(29));
        QCOMPARE(t.measuredCells(), t.applicableCells());
        QCOMPARE(t.applicableCells(), size_t(29 * 3));

        LanguageModel lm(*llm_);
        const auto tokens = lm.tokenizer().encode(readTextFile(calib_));
        PerplexityOptions po;
        po.maxChunks = 2;
        const auto base = lm.perplexity(tokens, {}, po);
        QCOMPARE(t.baseMetric, base.perplexity);
        // Spot checks across the embedding (tied head), first, middle and last blocks.
        for (size_t l : {size_t(0), size_t(1), size_t(9), size_t(16), size_t(28)}) {
            for (size_t c = 0; c < 3; ++c) {
                std::vector<LayerConfig> configs(llm_->layers.size());
                spec.candidates[c].patch.applyTo(configs[static_cast<size_t>(t.layerIndex[l])]);
                const auto r = lm.perplexity(tokens, configs, po);
                const auto& cell = t.cells[l][c];
                const QString what = QStringLiteral("%1 %2: %3 vs %4")
                                         .arg(QString::fromStdString(t.layers[l]))
                                         .arg(QString::fromStdString(t.candidates[c].name))
                                         .arg(cell.kl)
                                         .arg(r.kl);
                QVERIFY2(std::abs(cell.kl - r.kl) <= 1e-6 * r.kl + 1e-12, qPrintable(what));
                QVERIFY2(std::abs(cell.metricDelta - (r.perplexity - base.perplexity)) <= 1e-6 * r.perplexity,
                         qPrintable(what));
                const LayerResult lr = compressLayer(*llm_, t.layerIndex[l], configs[static_cast<size_t>(t.layerIndex[l])]);
                QCOMPARE(cell.bytes, (lr.compressedBits + 7) / 8);
            }
        }
        // Fewer bits cost more KL, on every layer.
        for (size_t l = 0; l < t.layers.size(); ++l)
            QVERIFY2(t.cells[l][0].kl < t.cells[l][1].kl && t.cells[l][1].kl < t.cells[l][2].kl, t.layers[l].c_str());
    }

    void cache()
    {
        const SearchSpec spec = SearchSpec::parse(kThree, "test");
        const SensitivityTable a = measureSensitivity(*llm_, Recipe(), spec, llmOptions());
        size_t measured = 1, cached = 0;
        const SensitivityTable b = measureSensitivity(*llm_, Recipe(), spec, llmOptions(),
                                                      [&](const SensitivityTable&, const SensitivityProgress& p) {
                                                          measured = p.cellsDone;
                                                          cached = p.fromCache;
                                                          return true;
                                                      });
        QCOMPARE(measured, size_t(0));
        QCOMPARE(cached, a.applicableCells());
        for (size_t l = 0; l < a.layers.size(); ++l)
            for (size_t c = 0; c < 3; ++c) {
                QCOMPARE(b.cells[l][c].kl, a.cells[l][c].kl);
                QCOMPARE(b.cells[l][c].bytes, a.cells[l][c].bytes);
            }
        // Other calibration (3 chunks): nothing from the cache.
        measureSensitivity(*llm_, Recipe(), spec, llmOptions(3), [&](const SensitivityTable&, const SensitivityProgress& p) {
            cached = p.fromCache;
            return true;
        });
        QCOMPARE(cached, size_t(0));
        // A corrupt cache file is ignored and replaced.
        for (const auto& e : fs::directory_iterator(cache_))
            if (e.path().filename() != "models.json")
                std::ofstream(e.path(), std::ios::trunc) << "{\"bonsai_sensitivity\":1,\"cells\":[1,2";
        const SensitivityTable d = measureSensitivity(*llm_, Recipe(), spec, llmOptions(),
                                                      [&](const SensitivityTable&, const SensitivityProgress& p) {
                                                          measured = p.cellsDone;
                                                          return true;
                                                      });
        QCOMPARE(measured, a.applicableCells());
        QCOMPARE(d.cells[5][1].kl, a.cells[5][1].kl);
    }

    void ggufTarget()
    {
        SensitivityOptions o = llmOptions();
        o.target = "gguf";
        SearchSpec spec = SearchSpec::parse(
            R"({"candidates":[{"name":"q8_0","precision":"q8_0"},{"name":"q4_k","precision":"q4_k"},
                {"name":"int4 g32","precision":"int4","granularity":"group","group_size":32}],"match":"layers\\.0\\."})",
            "test");
        const SensitivityTable t = measureSensitivity(*llm_, Recipe(), spec, o);
        QCOMPARE(t.layers.size(), size_t(7));
        for (size_t l = 0; l < t.layers.size(); ++l) {
            // Q8_0: 34 bytes per 32 values.
            QVERIFY(t.cells[l][0].applicable);
            QCOMPARE(t.cells[l][0].bytes, t.params[l] / 32 * 34);
            // Rows of 128 or 352 values cannot hold Q4_K's 256-value blocks; GGUF has no INT4 g32.
            QVERIFY(!t.cells[l][1].applicable);
            QVERIFY(!t.cells[l][2].applicable);
            QVERIFY2(t.cells[l][2].reason.find("gguf") != std::string::npos, t.cells[l][2].reason.c_str());
        }
    }

    void solverIsOptimal()
    {
        // Eight layers (block 0's seven and the embedding... matched by "layers\.0\.|embed"),
        // three candidates: 3^8 combinations.
        SearchSpec spec = SearchSpec::parse(kThree, "test");
        spec.match = "layers\\.0\\.|embed";
        const SensitivityTable t = measureSensitivity(*llm_, Recipe(), spec, llmOptions());
        QCOMPARE(t.layers.size(), size_t(8));
        double params = 0, lo = 0, hi = 0;
        for (size_t l = 0; l < t.layers.size(); ++l) {
            params += double(t.params[l]);
            lo += double(t.cells[l][2].bytes);
            hi += double(t.cells[l][0].bytes);
        }
        auto bytes = [&](size_t l, size_t c) { return double(t.cells[l][c].bytes); };
        auto kl = [&](size_t l, size_t c) { return t.cells[l][c].kl; };
        const auto groups = singles(t.layers.size());
        for (int i = 0; i <= 10; ++i) {
            const double cap = lo + (hi - lo) * i / 10.0;
            const SearchSolution s = solveSearch(t, {BudgetKind::Bytes, cap});
            const Brute b = bruteForce(t, groups, bytes, kl, cap);
            QVERIFY(s.feasible && s.optimal);
            QVERIFY2(std::abs(s.predictedKl - b.value) <= 1e-12 + 1e-9 * b.value,
                     qPrintable(QStringLiteral("%1 vs %2").arg(s.predictedKl).arg(b.value)));
            QVERIFY(double(s.bytes) <= cap + 0.5);
            QCOMPARE(s.bitsPerWeight, 8.0 * double(s.bytes) / params);
        }
        QVERIFY(!solveSearch(t, {BudgetKind::Bytes, lo - 1}).feasible);
        // Bits per weight: the same as its bytes.
        const SearchSolution a = solveSearch(t, {BudgetKind::BitsPerWeight, 5.0});
        const SearchSolution b = solveSearch(t, {BudgetKind::Bytes, 5.0 * params / 8});
        QCOMPARE(a.predictedKl, b.predictedKl);

        // A quality bound: the smallest bytes whose KL fits.
        for (double bound : {1e-4, 1e-3, 1e-2}) {
            const SearchSolution s = solveSearch(t, {BudgetKind::MaxKl, bound});
            const Brute br = bruteForce(t, groups, kl, bytes, bound);
            QVERIFY(s.feasible);
            QCOMPARE(double(s.bytes), br.value);
            QVERIFY(s.predictedKl <= bound * (1 + 1e-12));
        }

        // Pins: layer 3 must keep int2, layer 5 q8_0.
        std::vector<int> pins(t.layers.size(), -1);
        pins[3] = 2;
        pins[5] = 0;
        const double cap = (lo + hi) / 2;
        const SearchSolution p = solveSearch(t, {BudgetKind::Bytes, cap}, pins);
        QCOMPARE(p.choices[3].candidate, 2);
        QCOMPARE(p.choices[5].candidate, 0);
        QVERIFY(p.choices[3].pinned && !p.choices[4].pinned);
        QVERIFY(p.choices[3].explanation.find("(pinned)") != std::string::npos);
        QVERIFY(std::abs(p.predictedKl - bruteForce(t, groups, bytes, kl, cap, pins).value) <= 1e-12);

        // Ties: q/k/v of block 0 share one choice, gate/up another.
        const std::vector<std::string> ties = {"qkv", "gate_up"};
        std::vector<std::vector<size_t>> tied;
        std::map<std::string, size_t> at;
        for (size_t l = 0; l < t.layers.size(); ++l) {
            const std::string k = tieKey(t.layers[l], ties);
            if (k.empty()) {
                tied.push_back({l});
            } else if (auto it = at.find(k); it != at.end()) {
                tied[it->second].push_back(l);
            } else {
                at[k] = tied.size();
                tied.push_back({l});
            }
        }
        QCOMPARE(tied.size(), size_t(5)); // embedding, qkv, o, gate_up, down
        const SearchSolution s = solveSearch(t, {BudgetKind::Bytes, cap}, {}, ties);
        QVERIFY(std::abs(s.predictedKl - bruteForce(t, tied, bytes, kl, cap).value) <= 1e-12);
        for (const auto& g : tied)
            for (size_t l : g)
                QCOMPARE(s.choices[l].candidate, s.choices[g[0]].candidate);
    }

    void solutionRecipe()
    {
        SearchSpec spec = SearchSpec::parse(kThree, "test");
        const SensitivityTable t = measureSensitivity(*llm_, Recipe(), spec, llmOptions());
        const SearchSolution s = solveSearch(t, {BudgetKind::BitsPerWeight, 4.0});
        QVERIFY(s.feasible);
        const auto configs = solutionConfigs(*llm_, Recipe(), t, s);
        const Recipe r = Recipe::parse(bonsai::solutionRecipe(*llm_, Recipe(), t, s).toJson(), "written");
        QVERIFY(resolveConfigs(*llm_, r) == configs);
        // The solution's bytes are compressModel's for those configurations.
        const ModelResult mr = compressModel(*llm_, configs);
        uint64_t bits = 0;
        for (size_t l = 0; l < t.layers.size(); ++l)
            bits += (mr.layers[static_cast<size_t>(t.layerIndex[l])].compressedBits + 7) / 8 * 8;
        QCOMPARE(bits / 8, s.bytes);
    }

    void refineMeasuresBlocksTogether()
    {
        // Threshold 0 forces one round: each block's chosen layers are measured together (here
        // checked against a whole perplexity run with exactly those layers compressed), the
        // block's cells scaled by joint / sum, and the budget solved again.
        SearchSpec spec = SearchSpec::parse(kThree, "test");
        SensitivityTable t = measureSensitivity(*llm_, Recipe(), spec, llmOptions());
        const SearchBudget budget{BudgetKind::BitsPerWeight, 3.5};
        const SearchSolution first = solveSearch(t, budget);
        const RefineResult r = refineSearch(*llm_, Recipe(), t, budget, llmOptions(), {}, {}, 0.0, 1);
        QCOMPARE(r.rounds, 1);
        QCOMPARE(r.predictedKl, first.predictedKl);
        QCOMPARE(t.interaction.size(), t.layers.size());

        LanguageModel lm(*llm_);
        const auto tokens = lm.tokenizer().encode(readTextFile(calib_));
        PerplexityOptions po;
        po.maxChunks = 2;
        for (int block = 0; block < 4; ++block) {
            std::vector<LayerConfig> configs(llm_->layers.size());
            double sum = 0;
            std::vector<size_t> members;
            for (size_t l = 0; l < t.layers.size(); ++l) {
                if (t.layers[l].find("layers." + std::to_string(block) + ".") == std::string::npos)
                    continue;
                members.push_back(l);
                const auto c = static_cast<size_t>(first.choices[l].candidate);
                spec.candidates[c].patch.applyTo(configs[static_cast<size_t>(t.layerIndex[l])]);
                sum += t.cells[l][c].kl;
            }
            QCOMPARE(members.size(), size_t(7));
            const double joint = lm.perplexity(tokens, configs, po).kl;
            for (size_t l : members)
                QVERIFY2(std::abs(t.interaction[l] - joint / sum) <= 1e-6 * joint / sum,
                         qPrintable(QStringLiteral("block %1: %2 vs %3").arg(block).arg(t.interaction[l]).arg(joint / sum)));
        }
        // The embedding is a group of its own: unchanged.
        QCOMPARE(t.interaction[0], 1.0);
        // The final solution is the solver's on the scaled table, and its measured KL is a
        // whole run's.
        const SearchSolution again = solveSearch(t, budget);
        QCOMPARE(r.solution.predictedKl, again.predictedKl);
        const auto configs = solutionConfigs(*llm_, Recipe(), t, r.solution);
        QVERIFY(std::abs(r.measuredKl - lm.perplexity(tokens, configs, po).kl) <= 1e-6 * r.measuredKl);
    }

    void classifierCells()
    {
        auto model = Model::open(BONSAI_DEMO_MODEL);
        SensitivityOptions o;
        o.dataPath = defaultDatasetPath();
        o.samples = 200;
        o.cacheDir = cache_;
        const SearchSpec spec = SearchSpec::parse(
            R"({"candidates":[{"name":"int8","precision":"int8"},{"name":"int2 g32","precision":"int2","granularity":"group","group_size":32}]})",
            "test");
        const SensitivityTable t = measureSensitivity(*model, Recipe(), spec, o);
        QVERIFY(!t.languageModel);
        QCOMPARE(t.metricName, std::string("accuracy"));
        auto data = openDataset(defaultDatasetPath());
        EvalOptions eo;
        eo.limit = 200;
        eo.quickSamples = 0;
        Evaluator ev(*model, *data, eo);
        const double base = ev.reference().metrics.top1;
        QCOMPARE(t.baseMetric, base);
        for (size_t l = 0; l < t.layers.size(); ++l)
            for (size_t c = 0; c < 2; ++c) {
                std::vector<LayerConfig> configs(model->layers.size());
                spec.candidates[c].patch.applyTo(configs[static_cast<size_t>(t.layerIndex[l])]);
                const EvalResult r = ev.evaluate(configs);
                QCOMPARE(t.cells[l][c].kl, r.metrics.meanKl);
                QCOMPARE(t.cells[l][c].metricDelta, r.metrics.top1 - base);
                // Without input statistics the estimate is the relative squared weight error.
                const LayerResult lr = compressLayer(*model, t.layerIndex[l], configs[static_cast<size_t>(t.layerIndex[l])]);
                QVERIFY(std::abs(t.cells[l][c].estimate - lr.error.relFrobenius * lr.error.relFrobenius) <=
                        1e-9 * t.cells[l][c].estimate);
            }
    }
};

QTEST_APPLESS_MAIN(TstSearch)
#include "tst_search.moc"
