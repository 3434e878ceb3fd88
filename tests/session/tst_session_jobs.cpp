// The background-job runner (progress, ETA, cancel, newest wins, cancel-and-restart, guarded
// receivers) and the trade-off table without a model: Pareto fronts (top-1 and perplexity)
// on hand-made points, CSV.
#include "evalengine.h"
#include "gguf_writer.h"
#include "jobrunner.h"
#include "perplexityrunner.h"
#include "tradeoffmodel.h"

#include "bonsai/model.h"
#include "bonsai/progress.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QFile>
#include <QSignalSpy>
#include <QThread>
#include <QtTest>

#include <atomic>

using namespace bonsai::ui;

namespace {

// A core-style job: `steps` chunks of `ms` each, checking the callback between chunks.
int work(JobControl& c, int steps, int ms, int value)
{
    for (int i = 0; i < steps; ++i) {
        bonsai::reportProgress([&c](double f) { return c.progress(f); }, double(i) / steps);
        QThread::msleep(ulong(ms));
    }
    bonsai::reportProgress([&c](double f) { return c.progress(f); }, 1.0);
    return value;
}

TradeoffPoint point(const char* label, uint64_t bytes, double top1)
{
    TradeoffPoint p;
    p.label = QString::fromLatin1(label);
    p.result.compressedBytes = bytes;
    p.result.originalBytes = 1000;
    p.result.metrics.top1 = top1;
    p.result.metrics.top1Ci = {top1 - 0.01, top1 + 0.01};
    p.result.metrics.agreement = 0.5;
    p.result.seconds = 0.25;
    return p;
}

} // namespace

class TstSessionJobs : public QObject {
    Q_OBJECT
private slots:
    // What cannot run says so before anything starts: a GGUF of tensors that are no language
    // model is refused by perplexity (the action is then off); a language model is sent from
    // the (accuracy) evaluation to perplexity.
    void runnersExplainWhatTheyCannotRun()
    {
        namespace g = testutil::gguf;
        g::GgufWriter w;
        w.kv("general.architecture", g::tString, g::str("whisper"));
        w.tensor("encoder.conv1.weight", {4, 4}, g::gF32, std::string(64, '\0'));
        const auto notLlm = bonsai::Model::open(testutil::writeTemp("not-llm.gguf", w.build()));
        const QString ppl = PerplexityRunner::unsupportedReason(notLlm.get());
        QVERIFY2(ppl.contains(QStringLiteral("this model is not one")), qPrintable(ppl));
        QVERIFY(PerplexityRunner::unsupportedReason(nullptr).contains(QStringLiteral("Open a language model")));

        const auto llama = bonsai::Model::open(testutil::dataPath("tiny-llama"));
        QVERIFY(PerplexityRunner::unsupportedReason(llama.get()).isEmpty());
        const QString eval = evaluationUnsupportedReason(*llama);
        QVERIFY2(eval.contains(QStringLiteral("language model")) && eval.contains(QStringLiteral("Perplexity")),
                 qPrintable(eval));
        QVERIFY(evaluationUnsupportedReason(*notLlm).contains(QStringLiteral("gguf")));
    }

    void etaLeavesOutSetupBeforeTheFirstReport()
    {
        // A 7 s run whose first 5 s load data: at its first report 4% is done, 0.3 s later
        // 8%. The rate since then is 0.04 / 0.3 s, so 0.92 is left for 0.92 / (0.04 / 0.3)
        // = 6.9 s; counting the setup as work (5.3 s for 8%) would have said 61 s.
        QVERIFY(std::abs(JobControl::remainingSeconds(0.04, 0.3, 0.08) - 6.9) < 1e-9);
        // Too little to go by: under 2% more, or under 0.2 s.
        QCOMPARE(JobControl::remainingSeconds(0.04, 0.3, 0.055), -1.0);
        QCOMPARE(JobControl::remainingSeconds(0.04, 0.1, 0.5), -1.0);
        // Steady from the start: the plain elapsed / fraction estimate.
        QCOMPARE(JobControl::remainingSeconds(0.0, 2.0, 0.5), 2.0);
    }

    void progressMonotonicWithEta()
    {
        JobRunner runner;
        QSignalSpy progress(&runner, &JobRunner::progress);
        QSignalSpy finished(&runner, &JobRunner::finished);
        int result = -1;
        runner.start<int>(QStringLiteral("steps"), [](JobControl& c) { return work(c, 100, 5, 7); }, this,
                          [&](const int& r) { result = r; });
        QVERIFY(runner.isBusy());
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
        QCOMPARE(result, 7);
        QVERIFY(!runner.isBusy());
        QVERIFY(progress.count() >= 2);
        QVERIFY(progress.count() < 100); // throttled
        double last = -1;
        bool sawEta = false;
        for (const auto& args : progress) {
            const double f = args.at(1).toDouble();
            QVERIFY(f >= last);
            last = f;
            sawEta = sawEta || (f < 1 && args.at(2).toDouble() > 0);
        }
        QCOMPARE(last, 1.0);
        QVERIFY(sawEta);
    }

    void cancelHonouredQuickly()
    {
        JobRunner runner;
        std::atomic<bool> returned{false};
        QSignalSpy cancelled(&runner, &JobRunner::cancelled);
        QSignalSpy finished(&runner, &JobRunner::finished);
        QSignalSpy progress(&runner, &JobRunner::progress);
        bool delivered = false;
        runner.start<int>(QStringLiteral("long"),
                          [&](JobControl& c) {
                              struct Flag { std::atomic<bool>& f; ~Flag() { f = true; } } flag{returned};
                              return work(c, 60000, 1, 1); // a minute unless cancelled
                          },
                          this, [&](const int&) { delivered = true; });
        QTRY_VERIFY(progress.count() > 0);
        runner.cancel();
        QCOMPARE(cancelled.count(), 1);
        QVERIFY(!runner.isBusy());
        QTRY_VERIFY_WITH_TIMEOUT(returned.load(), 2000);
        QTest::qWait(50);
        QVERIFY(!delivered);
        QCOMPARE(finished.count(), 0);
    }

    void newestWins()
    {
        JobRunner runner;
        QList<int> delivered;
        QSignalSpy finished(&runner, &JobRunner::finished);
        auto deliver = [&](const int& r) { delivered << r; };
        runner.start<int>(QStringLiteral("old"), [](JobControl& c) { return work(c, 2000, 1, 1); }, this, deliver);
        QTest::qWait(20);
        const quint64 id = runner.start<int>(QStringLiteral("new"), [](JobControl& c) { return work(c, 10, 1, 2); }, this, deliver);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
        QCOMPARE(finished.at(0).at(0).toULongLong(), id);
        QTest::qWait(50);
        QCOMPARE(delivered, QList<int>{2});
    }

    void cancelAndRestartManyTimes()
    {
        JobRunner runner;
        QList<int> delivered;
        std::atomic<int> ran{0};
        for (int i = 0; i < 50; ++i) {
            runner.start<int>(QStringLiteral("job"),
                              [i, &ran](JobControl& c) {
                                  ++ran;
                                  return work(c, 20, 1, i);
                              },
                              this, [&](const int& r) { delivered << r; });
            if (i % 3 == 0)
                QCoreApplication::processEvents();
            if (i % 7 == 0 && i < 49)
                runner.cancel(); // and the next start() restarts
        }
        QTRY_VERIFY_WITH_TIMEOUT(!runner.isBusy(), 10000);
        runner.waitForIdle();
        QTest::qWait(50);
        QCOMPARE(delivered, QList<int>{49}); // only the newest, once
        QVERIFY(ran.load() < 50);           // superseded jobs that had not begun never ran
    }

    void failureAndGuardedReceiver()
    {
        JobRunner runner;
        QSignalSpy failed(&runner, &JobRunner::failed);
        runner.start<int>(QStringLiteral("bad"), [](JobControl&) -> int { throw bonsai::Error("no such layer"); },
                          this, [](const int&) {});
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("no such layer"));
        // The receiver is deleted while its job runs: nothing is delivered, nothing crashes.
        auto* receiver = new QObject;
        bool delivered = false;
        QSignalSpy finished(&runner, &JobRunner::finished);
        runner.start<int>(QStringLiteral("orphan"), [](JobControl& c) { return work(c, 20, 2, 3); }, receiver,
                          [&](const int&) { delivered = true; });
        delete receiver;
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
        QVERIFY(!delivered);
        // The runner is destroyed while a job runs: it cancels and waits.
        auto* doomed = new JobRunner;
        doomed->start<int>(QStringLiteral("long"), [](JobControl& c) { return work(c, 60000, 1, 0); }, this,
                           [](const int&) {});
        QTest::qWait(20);
        delete doomed;
    }

    void paretoFrontExcludesDominated()
    {
        std::vector<TradeoffPoint> pts{point("A", 100, 0.90), point("B", 50, 0.80), point("C", 60, 0.70),
                                       point("D", 100, 0.85), point("E", 200, 0.90), point("F", 300, 0.95),
                                       point("G", 40, 0.60)};
        const std::vector<int> front = paretoFront(pts);
        QCOMPARE(front, (std::vector<int>{6, 1, 0, 5})); // G, B, A, F by increasing size
        QVERIFY(paretoFront({}).empty());
    }

    void paretoFrontOfPerplexity()
    {
        // Lower perplexity is better. By hand: sorted by size, P(40, 30.0), Q(50, 12.0),
        // R(60, 14.0), S(100, 11.0), T(100, 10.5), U(200, 10.5), V(300, 10.0).
        // P opens the front; Q beats 30.0; R (14.0) does not beat 12.0; at size 100 T (10.5)
        // comes before S and beats 12.0, S does not beat 10.5; U ties T (not better);
        // V beats 10.5. Front: P, Q, T, V.
        auto ppl = [](const char* label, uint64_t bytes, double perplexity) {
            TradeoffPoint p = point(label, bytes, 0.0);
            p.perplexity = perplexity;
            p.basePerplexity = 10.0;
            return p;
        };
        const std::vector<TradeoffPoint> pts{ppl("S", 100, 11.0), ppl("P", 40, 30.0), ppl("R", 60, 14.0),
                                             ppl("V", 300, 10.0), ppl("Q", 50, 12.0), ppl("T", 100, 10.5),
                                             ppl("U", 200, 10.5)};
        QCOMPARE(paretoFront(pts, TradeoffMetric::Perplexity), (std::vector<int>{1, 4, 5, 3}));
        // The table marks the same rows (ParetoRole) under the model tester.
        TradeoffModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setMetric(TradeoffMetric::Perplexity);
        for (const auto& p : pts)
            model.add(p);
        QList<int> marked;
        for (int row = 0; row < model.rowCount(); ++row)
            if (model.data(model.index(row, 0), TradeoffModel::ParetoRole).toBool())
                marked << row;
        QCOMPARE(marked, (QList<int>{1, 3, 4, 5}));
        // Measured as top-1 (all 0) the smallest point alone is on the front.
        QCOMPARE(paretoFront(pts, TradeoffMetric::Top1), (std::vector<int>{1}));
    }

    void tableAndCsv()
    {
        TradeoffModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.add(point("#1 uncompressed", 1000, 0.9));
        model.add(point("#2 int8, \"mixed\"", 250, 0.89));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.columnCount(), int(TradeoffModel::NUM_COLUMNS));
        QCOMPARE(model.data(model.index(1, TradeoffModel::RatioColumn)).toString(), QStringLiteral("4.00×"));
        QCOMPARE(model.data(model.index(1, TradeoffModel::Top1Column)).toString(), QStringLiteral("89.00%"));
        QVERIFY(model.data(model.index(0, 0), TradeoffModel::ParetoRole).toBool());
        const QString csv = model.toCsv();
        const QStringList lines = csv.trimmed().split(QLatin1Char('\n'));
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], QStringLiteral("label,compressed_bytes,ratio,top1,top1_ci_lo,top1_ci_hi,agreement,kl_nats,seconds"));
        QCOMPARE(lines[1], QStringLiteral("#1 uncompressed,1000,1,0.9,0.89,0.91,0.5,0,0.25"));
        QCOMPARE(lines[2], QStringLiteral("\"#2 int8, \"\"mixed\"\"\",250,4,0.89,0.88,0.9,0.5,0,0.25"));
        const QString path = QString::fromStdString(testutil::tempPath("tradeoffs.csv"));
        QVERIFY(model.saveCsv(path));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(f.readAll()), csv);
        QString error;
        QVERIFY(!model.saveCsv(QStringLiteral("/nonexistent-dir/x.csv"), &error));
        QVERIFY(error.contains(QStringLiteral("x.csv")));
    }
};

QTEST_GUILESS_MAIN(TstSessionJobs)
#include "tst_session_jobs.moc"
