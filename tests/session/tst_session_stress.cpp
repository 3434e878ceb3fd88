// The session layer's jobs under stress: a seeded random sequence of 1000 operations starts,
// cancels and restarts evaluation, perplexity, preview, statistics, spectrum, size-estimate and
// recovery jobs, edits the configuration and switches models (the demo CNN, the tiny
// language model and two small classifiers built here), with event processing in between.
// Every report must come from the newest request of its kind (request numbers), and at each
// settle what each runner reported last must equal what the core computes directly for that
// request. BONSAI_STRESS_SEED picks another sequence.
#include "compressiondocument.h"
#include "evalengine.h"
#include "jobrunner.h"
#include "modelestimator.h"
#include "modelloader.h"
#include "perplexityrunner.h"
#include "previewrunner.h"
#include "recoveryrunner.h"
#include "spectrumrunner.h"
#include "statsrunner.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/model.h"
#include "bonsai/stats.h"
#include "bonsai/tokenizer.h"
#include "onnx_build.h"

#include <QElapsedTimer>
#include <QtTest>

#include <map>
#include <random>

using namespace bonsai::ui;

namespace {

constexpr int kOperations = 1000;
constexpr int kSettleEvery = 40;

bonsai::LayerConfig palette(int i)
{
    bonsai::LayerConfig c; // 0: unchanged
    if (i == 1 || i == 2)
        c.precision = bonsai::Precision{bonsai::PrecisionKind::Int, i == 1 ? 8 : 4, bonsai::DType::Q8_0};
    if (i == 3)
        c.sparsity = 0.5;
    return c;
}

// What one kind of job was asked for last: its request number (0: none since the last
// cancel) and the request numbers that delivered.
struct Track {
    int last = 0;
    std::vector<int> delivered;
};

} // namespace

class TstSessionStress : public QObject {
    Q_OBJECT

    // The models and data the sequence switches between.
    QStringList m_paths;
    QString m_train, m_test; // cluster data of the classifiers built here
    std::map<QString, std::shared_ptr<const bonsai::Model>> m_direct; // opened directly

    CompressionDocument m_doc;
    ModelLoader m_loader;
    StatsRunner m_stats;
    SpectrumRunner m_spectrum;
    PreviewRunner m_preview;
    ModelEstimator m_estimator{&m_doc};
    JobRunner m_eval;
    PerplexityRunner m_ppl;
    RecoveryRunner m_recovery;
    std::shared_ptr<EvalEngine> m_engine;

    QString m_path, m_lastOpen; // open model; last path asked for
    Track m_tStats, m_tSpectrum, m_tPreview, m_tEval, m_tPpl, m_tRecovery, m_tLoad;
    int m_next = 0;
    std::map<int, QString> m_what;              // request number: what it asked for (a key)
    std::map<int, std::vector<bonsai::LayerConfig>> m_asked; // request number: the configuration then
    std::map<int, QString> m_got;               // request number: what it delivered (the same key form)
    std::map<QString, QString> m_reference;     // key: the value computed directly
    QStringList m_faults;

    int request(Track& t, const QString& key)
    {
        t.last = ++m_next;
        m_what[t.last] = key;
        return t.last;
    }
    // A report of request n of kind t: it must be the newest request of that kind.
    void report(Track& t, const char* kind, int n, const QString& value)
    {
        if (n != t.last)
            m_faults << QStringLiteral("%1: request %2 reported while %3 is the newest").arg(QLatin1String(kind)).arg(n).arg(t.last);
        t.delivered.push_back(n);
        m_got[n] = value;
    }

    std::shared_ptr<const bonsai::Model> direct(const QString& path)
    {
        auto& m = m_direct[path];
        if (!m)
            m = bonsai::Model::open(path.toStdString());
        return m;
    }
    const bonsai::Model& model() const { return *m_doc.model(); }
    bool isLlm() const { return m_path.contains(QStringLiteral("tiny-llama")); }
    bool isMlp() const { return m_path.endsWith(QStringLiteral("_mlp.onnx")); }
    QString evalData() const { return isMlp() ? m_test : defaultEvalDataset(); }
    bool canEvaluate() const { return !isLlm() && !evalData().isEmpty(); }
    static bonsai::DatasetOptions split(const char* name)
    {
        bonsai::DatasetOptions o;
        o.split = name;
        return o;
    }

    void onLoaded(std::shared_ptr<const bonsai::Model> m, const QString& path)
    {
        report(m_tLoad, "load", m_tLoad.last, path);
        if (path != m_lastOpen)
            m_faults << QStringLiteral("load: %1 arrived, %2 was asked for last").arg(path, m_lastOpen);
        m_path = path;
        m_eval.cancel();
        m_ppl.runner()->cancel();
        m_recovery.runner()->cancel();
        m_tEval.last = m_tPpl.last = m_tRecovery.last = m_tStats.last = m_tSpectrum.last = m_tPreview.last = 0;
        m_engine = std::make_shared<EvalEngine>(m, EvalSettings{evalData(), QStringLiteral("test"), 24});
        m_ppl.reset();
        m_stats.setModel(m);
        m_spectrum.setModel(m);
        m_preview.setModel(m);
        m_doc.setModel(std::move(m));
    }

    QString configsKey(const std::vector<bonsai::LayerConfig>& configs) const
    {
        QString key = m_path;
        for (const auto& c : configs)
            key += QStringLiteral(" %1/%2").arg(c.precision.bits).arg(c.sparsity);
        return key;
    }

    // --- the operations ---
    void requestStats(std::mt19937& rng)
    {
        const int tensor = model().layers[rng() % model().layers.size()].weight;
        const int n = request(m_tStats, QStringLiteral("stats %1 %2").arg(m_path).arg(tensor));
        m_stats.request(tensor, 0, QString::number(n));
    }
    void requestSpectrum(std::mt19937& rng)
    {
        const int layer = int(rng() % model().layers.size());
        request(m_tSpectrum, QStringLiteral("spectrum %1 %2").arg(m_path).arg(layer));
        m_spectrum.request(layer);
    }
    void requestPreview(std::mt19937& rng)
    {
        const int layer = int(rng() % model().layers.size());
        const int p = int(rng() % 4);
        request(m_tPreview, QStringLiteral("preview %1 %2 %3").arg(m_path).arg(layer).arg(p));
        m_preview.request(layer, palette(p));
    }
    void configure(std::mt19937& rng)
    {
        const int layer = int(rng() % model().layers.size());
        const bonsai::LayerConfig c = palette(int(rng() % 4));
        m_doc.edit({layer}, [&](bonsai::LayerConfig& to) { to = c; }, QStringLiteral("stress"));
    }
    void requestEval()
    {
        const auto configs = m_doc.configs();
        const int n = request(m_tEval, QStringLiteral("eval ") + configsKey(configs));
        m_asked[n] = configs;
        auto engine = m_engine;
        m_eval.start<bonsai::EvalResult>(
            QStringLiteral("eval"),
            [engine, configs](JobControl& c) { return engine->evaluate(configs, [&c](double f) { return c.progress(f); }, {}); },
            this, [this, n](const bonsai::EvalResult& r) { report(m_tEval, "eval", n, QString::number(r.metrics.top1Correct)); });
    }
    void requestPerplexity()
    {
        PerplexityRequest req;
        req.model = m_doc.model();
        req.configs = m_doc.configs();
        req.options.ctx = 16;
        req.options.maxChunks = 2;
        req.options.compareToBase = false;
        req.text = PerplexityRunner::defaultText(model());
        const int n = request(m_tPpl, QStringLiteral("ppl ") + configsKey(req.configs));
        m_asked[n] = req.configs;
        m_ppl.start(req, this, {}, [this, n](const std::shared_ptr<bonsai::PerplexityResult>& r) {
            report(m_tPpl, "perplexity", n, QString::number(r->perplexity, 'g', 12));
        });
    }
    void requestRecovery(std::mt19937& rng)
    {
        RecoveryRequest req;
        req.model = m_doc.model();
        req.configs = m_doc.configs();
        req.options = recoverOptions(rng() % 2 ? bonsai::RecoverMethod::Qat : bonsai::RecoverMethod::Finetune);
        req.train = m_train;
        req.test = m_test;
        const int n = request(m_tRecovery, QStringLiteral("recover %1 ").arg(int(req.options.method)) + configsKey(req.configs));
        m_asked[n] = req.configs;
        m_recovery.start(req, this, {}, [this, n](const std::shared_ptr<bonsai::RecoverResult>& r) {
            report(m_tRecovery, "recovery", n, QString::number(r->accuracyBefore, 'g', 12));
        });
    }
    static bonsai::RecoverOptions recoverOptions(bonsai::RecoverMethod method)
    {
        bonsai::RecoverOptions o;
        o.method = method;
        o.steps = 3;
        o.batch = 16;
        o.limit = 64;
        o.evalLimit = 48;
        return o;
    }
    void open(const QString& path)
    {
        m_lastOpen = path;
        request(m_tLoad, path);
        m_loader.open(path);
    }
    void cancelOne(std::mt19937& rng)
    {
        switch (rng() % 5) {
        case 0: m_stats.cancel(); m_tStats.last = 0; break;
        case 1: m_preview.clear(); m_tPreview.last = 0; break;
        case 2: m_eval.cancel(); m_tEval.last = 0; break;
        case 3: m_ppl.runner()->cancel(); m_tPpl.last = 0; break;
        default: m_recovery.runner()->cancel(); m_tRecovery.last = 0; break;
        }
    }

    // --- what the core computes directly for a request ---
    // Request n's result as the core computes it for the open model (every request since the
    // last switch is for it) and the configuration of then.
    QString reference(int n)
    {
        const QString& what = m_what[n];
        if (auto it = m_reference.find(what); it != m_reference.end())
            return it->second;
        const auto m = direct(m_path);
        const auto& configs = m_asked[n];
        QString value;
        if (what.startsWith(QStringLiteral("eval "))) {
            const auto data = bonsai::openDataset(evalData().toStdString(), split("test"));
            bonsai::EvalOptions opt;
            opt.limit = 24;
            bonsai::Evaluator ev(*m, *data, opt);
            value = QString::number(ev.evaluate(configs).metrics.top1Correct);
        } else if (what.startsWith(QStringLiteral("ppl "))) {
            bonsai::LanguageModel lm(*m);
            bonsai::PerplexityOptions opt;
            opt.ctx = 16;
            opt.maxChunks = 2;
            opt.compareToBase = false;
            const auto tokens = lm.tokenizer().encode(bonsai::readTextFile(PerplexityRunner::defaultText(*m).toStdString()));
            value = QString::number(lm.perplexity(tokens, configs, opt).perplexity, 'g', 12);
        } else {
            const auto method = bonsai::RecoverMethod(what.section(QLatin1Char(' '), 1, 1).toInt());
            const auto train = bonsai::openDataset(m_train.toStdString(), split("train"));
            const auto test = bonsai::openDataset(m_test.toStdString(), split("test"));
            value = QString::number(bonsai::recover(*m, configs, *train, *test, recoverOptions(method)).accuracyBefore, 'g', 12);
        }
        return m_reference[what] = value;
    }

    void settle()
    {
        QElapsedTimer clock;
        clock.start();
        auto busy = [&] {
            return m_loader.isBusy() || m_stats.isBusy() || m_preview.isBusy() || m_estimator.isBusy() ||
                   m_eval.isBusy() || m_ppl.runner()->isBusy() || m_recovery.runner()->isBusy();
        };
        bool estimating = false;
        while (busy()) {
            if (!estimating && !m_loader.isBusy()) {
                m_estimator.startNow(); // no need to wait for the debounce
                estimating = true;
            }
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
            QVERIFY2(clock.elapsed() < 300000, "the jobs did not finish within 5 minutes");
        }
        QTest::qWait(20); // a late report of a superseded request would arrive now
        QVERIFY2(m_faults.isEmpty(), qPrintable(m_faults.join(QLatin1Char('\n'))));
        QCOMPARE(m_path, m_lastOpen);
        QCOMPARE(m_doc.model()->path, direct(m_path)->path);
        for (Track* t : {&m_tEval, &m_tPpl, &m_tRecovery, &m_tStats, &m_tPreview}) {
            if (t->last == 0)
                continue;
            QVERIFY2(!t->delivered.empty() && t->delivered.back() == t->last,
                     qPrintable(QStringLiteral("request %1 (%2) never reported").arg(t->last).arg(m_what[t->last])));
        }
        for (Track* t : {&m_tEval, &m_tPpl, &m_tRecovery})
            if (t->last != 0)
                QCOMPARE(m_got[t->last], reference(t->last));
        checkEstimates();
    }

    // The estimator's sizes are compressLayer()'s for the document's configuration.
    void checkEstimates()
    {
        QVERIFY(m_estimator.isComplete());
        const auto m = direct(m_path);
        for (int i = 0; i < m_doc.layerCount(); ++i) {
            const auto* r = m_estimator.result(i);
            QVERIFY(r);
            const auto want = bonsai::compressLayer(*m, i, m_doc.config(i));
            QCOMPARE(r->compressedBits, m_doc.config(i).isIdentity() ? want.originalBits : want.compressedBits);
        }
    }

private slots:
    void initTestCase()
    {
        using namespace onnxtest;
        m_paths << QStringLiteral(BONSAI_DEMO_MODEL) << QString::fromStdString(testutil::dataPath("tiny-llama"));
        m_paths << QString::fromStdString(save("a_mlp.onnx", mlpClassifier(3, 16, 32, 4)));
        m_paths << QString::fromStdString(save("b_mlp.onnx", mlpClassifier(11, 16, 24, 4)));
        m_train = QString::fromStdString(writeClusters("train", 128, 1));
        m_test = QString::fromStdString(writeClusters("test", 64, 2));

        connect(&m_loader, &ModelLoader::loaded, this, &TstSessionStress::onLoaded);
        connect(&m_loader, &ModelLoader::failed, this, [this](const QString& path, const QString& message) {
            m_faults << QStringLiteral("load %1 failed: %2").arg(path, message);
        });
        connect(&m_stats, &StatsRunner::finished, this, [this](const StatsResult& r) {
            const int n = r.label.toInt();
            const auto want = bonsai::computeStats(*direct(m_path), r.tensor, [] {
                bonsai::StatsOptions o;
                o.bins = StatsRunner::HistogramBins;
                return o;
            }());
            report(m_tStats, "stats", n, QStringLiteral("stats %1 %2").arg(m_path).arg(r.tensor));
            if (m_got[n] != m_what[n] || r.stats->count != want.count || r.stats->min != want.min ||
                r.stats->max != want.max || r.stats->histogram != want.histogram)
                m_faults << QStringLiteral("stats of request %1 (%2) are not the tensor's").arg(n).arg(m_what[n]);
        });
        connect(&m_stats, &StatsRunner::failed, this, [this](const QString& label, const QString& message) {
            m_faults << QStringLiteral("stats %1 failed: %2").arg(label, message);
        });
        connect(&m_spectrum, &SpectrumRunner::ready, this, [this](int layer, std::shared_ptr<const bonsai::Spectrum> s) {
            report(m_tSpectrum, "spectrum", m_tSpectrum.last, QStringLiteral("spectrum %1 %2").arg(m_path).arg(layer));
            const auto m = direct(m_path);
            uint64_t rows = 0, cols = 0;
            const auto w = bonsai::layerMatrix(*m, m->layers.at(size_t(layer)), rows, cols);
            const auto want = bonsai::singularSpectrum(w.data(), rows, cols, SpectrumRunner::TopK);
            if (m_got[m_tSpectrum.last] != m_what[m_tSpectrum.last] || s->values != want.values)
                m_faults << QStringLiteral("spectrum of layer %1 is not the last request's (%2)").arg(layer).arg(m_what[m_tSpectrum.last]);
        });
        connect(&m_preview, &PreviewRunner::finished, this, [this](const PreviewResult& r) {
            // One job at a time: a request made while a job for the same layer runs waits for
            // it, and that job still shows (the newest request follows when it ends).
            const QString& want = m_what[m_tPreview.last];
            const int p = want.section(QLatin1Char(' '), -1).toInt();
            const int layer = want.section(QLatin1Char(' '), -2, -2).toInt();
            if (m_tPreview.last == 0 || r.layer != layer || !r.error.isEmpty())
                m_faults << QStringLiteral("preview of layer %1 shown; the last request is %2").arg(r.layer).arg(want);
            const auto ref = PreviewRunner::compute(*direct(m_path), r.layer, r.result.config);
            if (r.original != ref.original || r.compressed != ref.compressed ||
                r.result.compressedBits != ref.result.compressedBits)
                m_faults << QStringLiteral("preview of layer %1 differs from compressLayer's").arg(r.layer);
            if (r.result.config == palette(p))
                report(m_tPreview, "preview", m_tPreview.last, want);
        });
        for (JobRunner* r : {&m_eval, m_ppl.runner(), m_recovery.runner()})
            connect(r, &JobRunner::failed, this, [this](quint64, const QString& message) { m_faults << message; });
        open(m_paths[0]);
        settle();
    }

    void randomSequence()
    {
        const unsigned seed = qEnvironmentVariableIsSet("BONSAI_STRESS_SEED")
                                  ? unsigned(qEnvironmentVariableIntValue("BONSAI_STRESS_SEED")) : 1u;
        qInfo("seed %u", seed);
        std::mt19937 rng(seed);
        int switches = 0;
        for (int op = 1; op <= kOperations; ++op) {
            const unsigned pick = rng() % 100;
            if (pick < 4) {
                open(m_paths[int(rng() % m_paths.size())]);
                ++switches;
            } else if (pick < 16) {
                requestStats(rng);
            } else if (pick < 26) {
                requestSpectrum(rng);
            } else if (pick < 40) {
                requestPreview(rng);
            } else if (pick < 50) {
                configure(rng);
            } else if (pick < 60) {
                if (canEvaluate())
                    requestEval();
            } else if (pick < 68) {
                if (isLlm())
                    requestPerplexity();
            } else if (pick < 74) {
                if (isMlp())
                    requestRecovery(rng);
            } else if (pick < 86) {
                cancelOne(rng);
            } else if (pick < 94) {
                QCoreApplication::processEvents();
            } else {
                QTest::qWait(int(rng() % 5));
            }
            if (op % kSettleEvery == 0 || op == kOperations) {
                settle();
                if (QTest::currentTestFailed())
                    return;
            }
        }
        QVERIFY(switches > 10);
        int checked = 0;
        const char* kinds[] = {"stats", "spectrum", "preview", "eval", "perplexity", "recovery"};
        int k = 0;
        for (const Track* t : {&m_tStats, &m_tSpectrum, &m_tPreview, &m_tEval, &m_tPpl, &m_tRecovery}) {
            qInfo("%s: %d reports", kinds[k++], int(t->delivered.size()));
            QVERIFY(!t->delivered.empty());
            checked += int(t->delivered.size());
        }
        qInfo("%d requests, %d reports, %d model switches, %d results computed directly", m_next, checked, switches,
              int(m_reference.size()));
    }
};

QTEST_GUILESS_MAIN(TstSessionStress)
#include "tst_session_stress.moc"
