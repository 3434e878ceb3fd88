// bonsai-cli search on the tiny-llama fixture: the recipe it writes fits the budget (bytes by
// the compression engine), gives the perplexity it reports (bonsai-cli ppl with that recipe),
// records its provenance and search; --match keeps the other layers as the recipe had them;
// a KL bound is met by the measured sensitivities; a latency budget is met by the measured
// per-cell latencies --json prints (positive, finite, the chosen ones summing to the total);
// bad arguments are refused in words.
#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace bonsai;
using testutil::runCli;

class TstCliSearch : public QObject {
    Q_OBJECT

    QString model_, calib_, eval_, candidates_, cache_;

    QStringList base(const QString& out) const
    {
        return {QStringLiteral("search"), model_, QStringLiteral("--text"), eval_, QStringLiteral("--calib"), calib_,
                QStringLiteral("--samples"), QStringLiteral("2"), QStringLiteral("--limit"), QStringLiteral("4"),
                QStringLiteral("--candidates"), candidates_, QStringLiteral("--cache"), cache_, QStringLiteral("--out"),
                out, QStringLiteral("--force"), QStringLiteral("--json")};
    }

private slots:
    void initTestCase()
    {
        model_ = QString::fromStdString(testutil::dataPath("tiny-llama"));
        calib_ = QString::fromStdString(testutil::dataPath("tiny-llama/calib.txt"));
        eval_ = QString::fromStdString(testutil::dataPath("tiny-llama/eval.txt"));
        candidates_ = QString::fromStdString(testutil::writeTemp("candidates.json", R"({"candidates":[
            {"name":"q8_0","precision":"q8_0"},
            {"name":"int4 g32","precision":"int4","granularity":"group","group_size":32},
            {"name":"int2 g32","precision":"int2","granularity":"group","group_size":32}]})"));
        cache_ = QString::fromStdString(testutil::tempPath("cache"));
    }

    void budgetBitsPerWeight()
    {
        const QString out = QString::fromStdString(testutil::tempPath("bpw.json"));
        QStringList args = base(out);
        args << QStringLiteral("--budget-bpw") << QStringLiteral("4");
        const auto r = runCli(args, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QVERIFY(j[QStringLiteral("bits_per_weight")].toDouble() <= 4.0);
        QVERIFY(j[QStringLiteral("optimal")].toBool());

        // The recipe: its layers' bytes by the compression engine are the reported bytes, and
        // fit 4 bits per weight.
        auto model = Model::open(model_.toStdString());
        const Recipe recipe = Recipe::load(out.toStdString());
        QVERIFY(!recipe.provenance.empty());
        QVERIFY(recipe.provenance.find("search: budget 4 bits per weight") != std::string::npos);
        QVERIFY(recipe.search.find("int2 g32") != std::string::npos);
        const ModelResult mr = compressModel(*model, resolveConfigs(*model, recipe));
        uint64_t bytes = 0, params = 0;
        for (const auto& l : mr.layers) {
            bytes += (l.compressedBits + 7) / 8;
            params += l.params;
        }
        QCOMPARE(qulonglong(bytes), qulonglong(j[QStringLiteral("bytes")].toDouble()));
        QVERIFY(8.0 * double(bytes) / double(params) <= 4.0);

        // bonsai-cli ppl with the written recipe measures the perplexity search reported.
        const auto p = runCli({QStringLiteral("ppl"), model_, QStringLiteral("--text"), eval_, QStringLiteral("--recipe"),
                               out, QStringLiteral("--chunks"), QStringLiteral("4"), QStringLiteral("--json")});
        QVERIFY2(p.exitCode == 0, p.err.constData());
        const QJsonObject pj = QJsonDocument::fromJson(p.out).object();
        QCOMPARE(pj[QStringLiteral("perplexity")].toDouble(), j[QStringLiteral("perplexity")].toDouble());
        QCOMPARE(pj[QStringLiteral("kl")].toDouble(), j[QStringLiteral("kl")].toDouble());
        QVERIFY(j[QStringLiteral("front")].toArray().size() >= 3);
    }

    void matchAndKlBound()
    {
        // Only the MLP layers are searched; the recipe's default (fp16) stays on the others.
        const std::string baseRecipe = testutil::writeTemp("base.json", R"({"bonsai_recipe":1,"defaults":{"precision":"fp16"}})");
        const QString out = QString::fromStdString(testutil::tempPath("kl.json"));
        QStringList args = base(out);
        args << QStringLiteral("--max-kl") << QStringLiteral("0.002") << QStringLiteral("--match") << QStringLiteral("mlp")
             << QStringLiteral("--recipe") << QString::fromStdString(baseRecipe);
        const auto r = runCli(args, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        const QJsonArray layers = j[QStringLiteral("layers")].toArray();
        QCOMPARE(layers.size(), 12);
        double kl = 0;
        for (const auto& l : layers) {
            QVERIFY(l.toObject()[QStringLiteral("layer")].toString().contains(QStringLiteral("mlp")));
            kl += l.toObject()[QStringLiteral("kl")].toDouble();
        }
        QVERIFY(kl <= 0.002 * (1 + 1e-9));
        QVERIFY(std::abs(kl - j[QStringLiteral("predicted_kl")].toDouble()) <= 1e-12);
        auto model = Model::open(model_.toStdString());
        const auto configs = resolveConfigs(*model, Recipe::load(out.toStdString()));
        for (size_t i = 0; i < model->layers.size(); ++i)
            if (model->layers[i].name.find("mlp") == std::string::npos)
                QVERIFY2(configs[i].precision.kind == PrecisionKind::FP16, model->layers[i].name.c_str());
    }

    void latencyBudget()
    {
        // --latency prints every cell's measured cost; a budget halfway between the fastest
        // and the slowest choice then holds (the second run reads the costs from the cache).
        const QString out = QString::fromStdString(testutil::tempPath("latency.json"));
        QStringList args = base(out);
        args << QStringLiteral("--budget-bpw") << QStringLiteral("4") << QStringLiteral("--latency");
        auto r = runCli(args, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QJsonObject j = QJsonDocument::fromJson(r.out).object();
        double lo = 0, hi = 0;
        for (const auto& l : j[QStringLiteral("layers")].toArray()) {
            double fastest = INFINITY, slowest = 0;
            const QJsonArray costs = l.toObject()[QStringLiteral("costs")].toArray();
            QCOMPARE(costs.size(), 3);
            for (const auto& c : costs) {
                const double ms = c.toObject()[QStringLiteral("latency_ms")].toDouble(-1);
                QVERIFY2(std::isfinite(ms) && ms > 0, qPrintable(l.toObject()[QStringLiteral("layer")].toString()));
                fastest = std::min(fastest, ms);
                slowest = std::max(slowest, ms);
            }
            lo += fastest;
            hi += slowest;
        }
        const double budget = (lo + hi) / 2;
        args = base(out);
        args << QStringLiteral("--budget-latency-ms") << QString::number(budget, 'g', 17);
        r = runCli(args, 300000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        j = QJsonDocument::fromJson(r.out).object();
        double sum = 0;
        for (const auto& l : j[QStringLiteral("layers")].toArray()) {
            const QJsonObject o = l.toObject();
            const double ms = o[QStringLiteral("latency_ms")].toDouble();
            for (const auto& c : o[QStringLiteral("costs")].toArray())
                if (c.toObject()[QStringLiteral("candidate")] == o[QStringLiteral("candidate")])
                    QCOMPARE(c.toObject()[QStringLiteral("latency_ms")].toDouble(), ms);
            sum += ms;
        }
        QVERIFY2(sum <= budget * (1 + 1e-12), qPrintable(QStringLiteral("%1 > %2").arg(sum).arg(budget)));
        QVERIFY(std::abs(sum - j[QStringLiteral("latency_ms")].toDouble()) <= 1e-9 * sum);
    }

    // --minimize metric: under the same budget and table, the summed perplexity rise is at most
    // the KL solution's, and its summed KL at least the KL solution's (each solution is optimal
    // for its own objective, so neither can beat the other on the other's).
    void minimizeMetric()
    {
        QJsonObject sol[2];
        const char* objectives[2] = {"kl", "metric"};
        for (int k = 0; k < 2; ++k) {
            const QString out = QString::fromStdString(testutil::tempPath(std::string("min-") + objectives[k] + ".json"));
            QStringList args = base(out);
            args << QStringLiteral("--budget-bpw") << QStringLiteral("5") << QStringLiteral("--minimize")
                 << QString::fromLatin1(objectives[k]);
            const auto r = runCli(args, 300000);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            sol[k] = QJsonDocument::fromJson(r.out).object();
            QCOMPARE(sol[k][QStringLiteral("objective")].toString(), QString::fromLatin1(objectives[k]));
            QVERIFY(sol[k][QStringLiteral("bits_per_weight")].toDouble() <= 5.0);
            QVERIFY(sol[k][QStringLiteral("optimal")].toBool());
        }
        const double tol = 1e-12;
        QVERIFY(sol[1][QStringLiteral("predicted_delta")].toDouble() <= sol[0][QStringLiteral("predicted_delta")].toDouble() + tol);
        QVERIFY(sol[0][QStringLiteral("predicted_kl")].toDouble() <= sol[1][QStringLiteral("predicted_kl")].toDouble() + tol);
    }

    void refusals()
    {
        const QString out = QString::fromStdString(testutil::tempPath("x.json"));
        auto refused = [&](QStringList extra, const char* words) {
            QStringList args = base(out);
            args << extra;
            const auto r = runCli(args);
            return r.exitCode != 0 && r.err.contains(words);
        };
        QVERIFY(refused({}, "give exactly one of --budget-bpw"));
        QVERIFY(refused({QStringLiteral("--budget-bpw"), QStringLiteral("4"), QStringLiteral("--max-kl"), QStringLiteral("1")},
                        "give exactly one"));
        QVERIFY(refused({QStringLiteral("--budget-bpw"), QStringLiteral("four")}, "non-negative number"));
        QVERIFY(refused({QStringLiteral("--budget-bpw"), QStringLiteral("4"), QStringLiteral("--target"), QStringLiteral("tflite")},
                        "--target must be"));
        QVERIFY(refused({QStringLiteral("--budget-bpw"), QStringLiteral("0.5")}, "fits the budget"));
        QVERIFY(refused({QStringLiteral("--budget-latency-ms"), QStringLiteral("-1")}, "non-negative number"));
        QVERIFY(refused({QStringLiteral("--budget-latency-ms"), QStringLiteral("1e-9")}, "fits the latency budget"));
        QVERIFY(refused({QStringLiteral("--budget-bpw"), QStringLiteral("4"), QStringLiteral("--minimize"), QStringLiteral("ppl")},
                        "--minimize takes kl or metric"));
        QVERIFY(!QFile::exists(out));
    }
};

QTEST_GUILESS_MAIN(TstCliSearch)
#include "tst_cli_search.moc"
