// measureSpeed (bonsai/speed.h): the structure and consistency of a measure, never its
// wall-clock values. Language models (tiny-llama): one timed step per repeat and decode token,
// the layers' times adding up to their parts', the parts within a step, the resident weights
// equal to the bytes the packed formats take, computed here from the shapes. Classifiers (the
// demo CNN): every layer timed by the node reading its weight, the nodes' times adding up
// to about one whole run; in deploy mode the symmetric INT8 layers run in INT8. Progress rises
// to 1 and cancelling stops the measure. The other processes' share of the CPUs counts a
// child process's spinning.
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/speed.h"
#include "speed/speed_impl.h"
#include "testutil.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

using namespace bonsai;

namespace {

uint64_t elements(const Model& m, const Layer& l)
{
    return m.tensors[size_t(l.weight)].numel;
}

} // namespace

class TstSpeed : public QObject {
    Q_OBJECT

private slots:
    void languageModel_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<double>("bytesPerWeight"); // of the packed rows
        QTest::newRow("fp32") << QString() << 4.0;
        QTest::newRow("q8_0") << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})" << 34.0 / 32.0;
    }

    void languageModel()
    {
        QFETCH(QString, recipe);
        QFETCH(double, bytesPerWeight);
        auto model = Model::open(testutil::dataPath("tiny-llama"));
        const auto configs = recipe.isEmpty() ? std::vector<LayerConfig>{} : resolveConfigs(*model, Recipe::parse(recipe.toStdString(), "test recipe"));
        SpeedOptions o;
        o.batch = 2;
        o.prompt = 16;
        o.tokens = 5;
        o.repeats = 1; // one repeat: medians are the repeat's own values, so sums compare exactly
        const SpeedResult r = measureSpeed(*model, configs, o);
        QCOMPARE(r.kind, SpeedResult::Kind::LanguageModel);
        QCOMPARE(r.decodeSteps, o.repeats * o.tokens);
        QCOMPARE(r.promptTokens, o.prompt);
        QCOMPARE(r.batch, o.batch);
        QVERIFY(r.decodeStep.min <= r.decodeStep.median && r.decodeStep.median <= r.decodeStep.max);
        QVERIFY(r.decodeStep.min > 0 && r.prefill.min > 0);
        QCOMPARE(r.throughput, double(o.batch) * r.decodeTokensPerSecond);
        QCOMPARE(r.decodeTokensPerSecond, 1.0 / r.decodeStep.median);
        QCOMPARE(r.prefillTokensPerSecond, double(o.batch * o.prompt) / r.prefill.median);

        // Each linear layer timed; per part, the layers' times add up to the part's.
        QCOMPARE(r.parts.size(), size_t(10));
        QCOMPARE(r.layerSeconds.size(), model->layers.size());
        double partsTotal = 0;
        for (const PartSpeed& p : r.parts) {
            partsTotal += p.seconds.median;
            double layers = 0;
            int count = 0;
            for (size_t li = 0; li < model->layers.size(); ++li) {
                const auto info = llmLayerInfo(model->layers[li].name);
                QVERIFY(info);
                const bool head = info->role == LlmRole::Embedding || info->role == LlmRole::Head; // tied
                if ((head ? std::string("head") : std::string(llmRoleName(info->role))) == p.name) {
                    QVERIFY2(r.layerSeconds[li] > 0, model->layers[li].name.c_str());
                    layers += r.layerSeconds[li];
                    ++count;
                }
            }
            if (p.name == "attention" || p.name == "other")
                continue;
            QVERIFY2(count > 0, p.name.c_str());
            QVERIFY2(std::abs(layers - p.seconds.median) <= 1e-9 * p.seconds.median, p.name.c_str());
        }
        // The parts are timed inside the steps: per token they take no longer than the longest step.
        QVERIFY(partsTotal <= r.decodeStep.max);

        // Resident weights: every layer's rows packed (the tied head is the embedding's).
        uint64_t expected = 0;
        for (const Layer& l : model->layers)
            expected += uint64_t(double(elements(*model, l)) * bytesPerWeight);
        QCOMPARE(r.weightBytes, expected);
        // KV cache: K and V of every block, sequence and position, as floats.
        const LlmConfig cfg = LanguageModel(*model).config();
        QCOMPARE(r.kvCacheBytes, uint64_t(2 * cfg.layers * o.batch * (o.prompt + o.tokens + 1) * cfg.kvHeads *
                                          cfg.headDim * sizeof(float)));
        QVERIFY(r.peakRssBytes > 0);
    }

    void classifier()
    {
        auto model = Model::open(BONSAI_DEMO_MODEL);
        SpeedOptions o;
        o.batch = 4;
        o.repeats = 5;
        std::vector<double> fractions;
        const SpeedResult r = measureSpeed(*model, {}, o, [&](double f) {
            fractions.push_back(f);
            return true;
        });
        QCOMPARE(r.kind, SpeedResult::Kind::Classifier);
        QCOMPARE(r.repeats, int64_t(5));
        QCOMPARE(r.throughput, 4.0 / r.latency.median);
        QCOMPARE(r.weightBytes, model->totalBytes());
        QVERIFY(!r.nodes.empty());
        // Every layer is timed as the node that reads its weight, and listed under it.
        QCOMPARE(r.layerSeconds.size(), model->layers.size());
        size_t listed = 0;
        double nodes = 0;
        for (const NodeSpeed& n : r.nodes) {
            QVERIFY(n.seconds.min <= n.seconds.median && n.seconds.median <= n.seconds.max);
            nodes += n.seconds.median;
            for (int li : n.layers)
                QCOMPARE(r.layerSeconds[size_t(li)], n.seconds.median);
            listed += n.layers.size();
        }
        QCOMPARE(listed, model->layers.size());
        // The nodes were timed (how their sum compares with a whole run is left out: on a loaded
        // machine a run's waits for the other thread took 47 times the nodes' own time).
        QVERIFY(nodes > 0);
        // Activations: at least the input batch of 4 x 28 x 28 floats and the 4 x 10 logits.
        QVERIFY(r.activationBytes >= (4 * 28 * 28 + 4 * 10) * sizeof(float));
        QVERIFY(!fractions.empty());
        QVERIFY(std::is_sorted(fractions.begin(), fractions.end()));
        QCOMPARE(fractions.back(), 1.0);
    }

    // The other processes' load: a child process spinning for 0.6 s while this one sleeps is
    // at least one core's time of all (more if anything else ran meanwhile).
    void otherProcessesLoad()
    {
        QCOMPARE(OtherCpuLoad().share(), -1.0); // under half a second: too short to tell
        const OtherCpuLoad load;
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            volatile uint64_t spin = 0;
            for (;;)
                spin = spin + 1;
        }
        QThread::msleep(600);
        const double share = load.share();
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        QVERIFY2(share >= 0.8 / double(cores), qPrintable(QString::number(share)));
        QVERIFY(share <= 1);
    }

    void classifierDeploy()
    {
        // Symmetric INT8 per channel: every layer runs from its codes in deploy mode, none without.
        auto model = Model::open(BONSAI_DEMO_MODEL);
        const auto configs =
            resolveConfigs(*model, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})", "test recipe"));
        SpeedOptions o;
        o.deploy = true;
        const SpeedResult deployed = measureSpeed(*model, configs, o);
        std::vector<std::string> names;
        for (const Layer& l : model->layers)
            names.push_back(l.name);
        QCOMPARE(deployed.int8Layers, names);
        o.deploy = false;
        QVERIFY(measureSpeed(*model, configs, o).int8Layers.empty());
        // Asymmetric INT8 has no INT8 kernel: fake quantization in float32 even when deployed.
        const auto asym = resolveConfigs(
            *model, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int8","symmetric":false}})", "test recipe"));
        o.deploy = true;
        QVERIFY(measureSpeed(*model, asym, o).int8Layers.empty());
    }

    void timingInputsOfABatch()
    {
        // The demo CNN's input [N, 1, 28, 28]: the batch first, values in [0, 1), the same per seed.
        auto model = Model::open(BONSAI_DEMO_MODEL);
        const OnnxExecutor ex(*model);
        const OnnxExecutor::Store a = timingInputs(ex, 3), b = timingInputs(ex, 3);
        QCOMPARE(a.size(), size_t(1));
        const Value& v = a.at(ex.inputNames()[0]);
        QCOMPARE(v.shape, (std::vector<int64_t>{3, 1, 28, 28}));
        QVERIFY(std::all_of(v.f.begin(), v.f.end(), [](float x) { return x >= 0 && x < 1; }));
        QCOMPARE(v.f, b.at(ex.inputNames()[0]).f);
        QVERIFY(v.f != timingInputs(ex, 3, 8).at(ex.inputNames()[0]).f);
    }

    void cancelAndRefusals()
    {
        auto model = Model::open(testutil::dataPath("tiny-llama"));
        SpeedOptions o;
        o.prompt = 8;
        o.tokens = 4;
        int calls = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, measureSpeed(*model, {}, o, [&](double) { return ++calls < 3; }));
        QCOMPARE(calls, 3);
        QVERIFY_THROWS_EXCEPTION(Error, measureSpeed(*model, std::vector<LayerConfig>(2), o));
        o.batch = 0;
        QVERIFY_THROWS_EXCEPTION(Error, measureSpeed(*model, {}, o));
    }
};

QTEST_APPLESS_MAIN(TstSpeed)
#include "tst_speed.moc"
