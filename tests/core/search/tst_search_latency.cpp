// The budget search's latency budget (bonsai/search.h):
//  - the solver with given per-cell latencies: the solution's summed latency is within the
//    budget and its KL is the least of every combination that fits (brute force), with ties;
//    a cell without a latency is never chosen; below the fastest choice nothing fits;
//  - measureLatencyCosts on tiny-llama (decode matrix-vector kernels) and the demo CNN (its
//    nodes on the executor): every applicable cell gets a positive, finite time; cells that
//    run the same kernel on the same shape share one timing (fp16 and nf4 both run FP32 rows;
//    int4 and int2 both packed INT4; k_proj and v_proj have one shape; a classifier's
//    non-INT8 candidates all run its FP32 node); a second call reads every cell from the
//    cache. No test compares times between kernels: they are wall-clock figures.
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/search.h"

#include "search_brute.h"
#include "testutil.h"

#include <QtTest>

#include <cmath>
#include <regex>

using namespace bonsai;

namespace {

std::vector<SearchCandidate> named(const std::vector<std::string>& names)
{
    std::vector<SearchCandidate> out;
    for (const auto& n : names)
        for (const auto& c : defaultCandidates())
            if (c.name == n)
                out.push_back(c);
    return out;
}

// The layers of `model` matching `match`, every cell applicable, nothing measured.
SensitivityTable tableFor(const Model& model, const std::vector<SearchCandidate>& candidates, const std::string& match)
{
    SensitivityTable t;
    t.languageModel = isLanguageModel(model);
    t.candidates = candidates;
    const std::regex re(match);
    for (size_t i = 0; i < model.layers.size(); ++i) {
        const Layer& l = model.layers[i];
        if (l.weight < 0 || !std::regex_search(l.name, re))
            continue;
        t.layers.push_back(l.name);
        t.layerIndex.push_back(int(i));
        t.params.push_back(model.tensors[size_t(l.weight)].numel);
        t.baseBytes.push_back(model.tensors[size_t(l.weight)].nbytes);
        t.base.push_back(LayerConfig{});
        std::vector<SensitivityCell> row(candidates.size());
        for (auto& cell : row) {
            cell.applicable = true;
            cell.bytes = 1;
        }
        t.cells.push_back(std::move(row));
    }
    t.interaction.assign(t.layers.size(), 1.0);
    return t;
}

} // namespace

class TstSearchLatency : public QObject {
    Q_OBJECT

    std::string cache_;

    size_t cellsFromCache(const Model& model, SensitivityTable& t) const
    {
        SensitivityOptions o;
        o.cacheDir = cache_;
        size_t fromCache = 0;
        measureLatencyCosts(model, t, o, [&](const SensitivityTable&, const SensitivityProgress& p) {
            fromCache = p.fromCache;
            return true;
        });
        return fromCache;
    }

    static void checkPositive(const SensitivityTable& t)
    {
        for (size_t l = 0; l < t.layers.size(); ++l)
            for (size_t c = 0; c < t.candidates.size(); ++c) {
                const double ms = t.cells[l][c].latencyMs;
                QVERIFY2(std::isfinite(ms) && ms > 0,
                         qPrintable(QStringLiteral("%1 %2: %3").arg(QString::fromStdString(t.layers[l]),
                                                                    QString::fromStdString(t.candidates[c].name))
                                        .arg(ms)));
            }
    }

private slots:
    void initTestCase() { cache_ = testutil::tempPath("latency-cache"); }

    void solverWithGivenCosts()
    {
        // Block 0 of a Llama: 7 layers, 4 candidates; KL falls and latency rises with the
        // candidate index, each layer with its own slope (hand-set numbers).
        SensitivityTable t;
        t.languageModel = true;
        t.candidates = named({"fp16", "q8_0", "int4 g32", "int2 g32"});
        const char* names[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
        for (size_t l = 0; l < 7; ++l) {
            const bool mlp = l >= 4;
            t.layers.push_back(std::string("model.layers.0.") + (mlp ? "mlp." : "self_attn.") + names[l]);
            t.layerIndex.push_back(int(l));
            t.params.push_back(1000);
            t.baseBytes.push_back(4000);
            t.base.push_back(LayerConfig{});
            std::vector<SensitivityCell> row(4);
            for (size_t c = 0; c < 4; ++c) {
                row[c].applicable = true;
                row[c].bytes = 2000 / (c + 1);
                row[c].kl = (0.001 + 0.0007 * double(l)) * double(c * c) + 1e-5 * double((l * 7 + c * 3) % 5);
                row[c].metricDelta = row[c].kl;
                row[c].latencyMs = (1.0 + 0.5 * double(l)) / (1.0 + double(c)) + 0.01 * double((l + 2 * c) % 3);
            }
            t.cells.push_back(std::move(row));
        }
        t.interaction.assign(7, 1.0);
        auto latency = [&](size_t l, size_t c) { return t.cells[l][c].latencyMs; };
        auto kl = [&](size_t l, size_t c) { return t.cells[l][c].kl; };
        double lo = 0, hi = 0;
        for (size_t l = 0; l < 7; ++l) {
            lo += t.cells[l][3].latencyMs;
            hi += t.cells[l][0].latencyMs;
        }
        const std::vector<std::string> ties = {"qkv", "gate_up"};
        const std::vector<std::vector<size_t>> tied = {{0, 1, 2}, {3}, {4, 5}, {6}};
        for (int i = 0; i <= 8; ++i) {
            const double cap = lo + (hi - lo) * i / 8.0;
            for (bool tie : {false, true}) {
                const SearchSolution s = solveSearch(t, {BudgetKind::LatencyMs, cap}, {}, tie ? ties : std::vector<std::string>{});
                const testutil::Brute b = testutil::bruteForce(t, tie ? tied : testutil::singles(7), latency, kl, cap);
                QVERIFY(s.feasible && s.optimal);
                double sum = 0;
                for (size_t l = 0; l < 7; ++l)
                    sum += t.cells[l][size_t(s.choices[l].candidate)].latencyMs;
                QVERIFY2(sum <= cap * (1 + 1e-12), qPrintable(QStringLiteral("%1 > %2").arg(sum).arg(cap)));
                QVERIFY(std::abs(s.latencyMs - sum) <= 1e-12 * sum);
                QVERIFY2(std::abs(s.predictedKl - b.value) <= 1e-12 + 1e-9 * b.value,
                         qPrintable(QStringLiteral("%1 vs %2").arg(s.predictedKl).arg(b.value)));
                if (tie)
                    for (const auto& g : tied)
                        for (size_t l : g)
                            QCOMPARE(s.choices[l].candidate, s.choices[g[0]].candidate);
            }
        }
        QVERIFY(!solveSearch(t, {BudgetKind::LatencyMs, lo * 0.99}).feasible);
        // A cell without a latency cannot be chosen, even where it would be best.
        t.cells[3][0].latencyMs = kNotMeasured;
        const SearchSolution s = solveSearch(t, {BudgetKind::LatencyMs, hi * 2});
        QVERIFY(s.feasible);
        QVERIFY(s.choices[3].candidate != 0);
        QCOMPARE(s.choices[2].candidate, 0); // the others take the best KL
    }

    void decodeCosts()
    {
        auto model = Model::open(testutil::dataPath("tiny-llama"));
        SensitivityTable t = tableFor(*model, named({"fp16", "nf4", "q8_0", "int8", "int4 g32", "int2 g32"}),
                                      "layers\\.0\\.");
        QCOMPARE(t.layers.size(), size_t(7));
        QCOMPARE(cellsFromCache(*model, t), size_t(0));
        checkPositive(t);
        if (QTest::currentTestFailed())
            return;
        size_t k = 0, v = 0;
        for (size_t l = 0; l < t.layers.size(); ++l) {
            const auto& row = t.cells[l];
            QCOMPARE(row[0].latencyMs, row[1].latencyMs); // fp16, nf4: FP32 rows
            QCOMPARE(row[4].latencyMs, row[5].latencyMs); // int4, int2: packed INT4, groups of 32
            k = t.layers[l].find("k_proj") != std::string::npos ? l : k;
            v = t.layers[l].find("v_proj") != std::string::npos ? l : v;
        }
        for (size_t c = 0; c < t.candidates.size(); ++c)
            QCOMPARE(t.cells[k][c].latencyMs, t.cells[v][c].latencyMs); // one shape, one timing
        // Again: every cell from the cache, the same numbers.
        SensitivityTable again = tableFor(*model, t.candidates, "layers\\.0\\.");
        QCOMPARE(cellsFromCache(*model, again), size_t(7 * 6));
        for (size_t l = 0; l < t.layers.size(); ++l)
            for (size_t c = 0; c < t.candidates.size(); ++c)
                QCOMPARE(again.cells[l][c].latencyMs, t.cells[l][c].latencyMs);
    }

    void nodeCosts()
    {
        auto model = Model::open(BONSAI_DEMO_MODEL);
        SensitivityTable t = tableFor(*model, named({"fp16", "int8", "int4 g32"}), ".");
        QCOMPARE(t.layers.size(), size_t(4));
        cellsFromCache(*model, t);
        checkPositive(t);
        for (size_t l = 0; l < t.layers.size(); ++l)
            QCOMPARE(t.cells[l][0].latencyMs, t.cells[l][2].latencyMs); // both the FP32 node
    }
};

QTEST_APPLESS_MAIN(TstSearchLatency)
#include "tst_search_latency.moc"
