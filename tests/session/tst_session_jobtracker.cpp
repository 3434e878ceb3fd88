// JobTracker, the session layer's "newest request wins": ids, supersession as cancellation,
// delivery through a queued call only while a job is current, jobs on its worker with results
// through the event loop; and the runners built on it (ModelLoader, StatsRunner) reporting
// only their newest request. No widgets.
#include "jobtracker.h"
#include "modelloader.h"
#include "statsrunner.h"

#include "bonsai/model.h"
#include "testutil.h"

#include <QSemaphore>
#include <QSignalSpy>
#include <QThread>
#include <QThreadPool>
#include <QtTest>

#include <mutex>
#include <string>
#include <vector>

using namespace bonsai::ui;

class TstSessionJobTracker : public QObject {
    Q_OBJECT
private slots:
    void idsAndSupersession()
    {
        QObject context;
        JobTracker jobs(&context);
        QVERIFY(!jobs.isBusy());
        QCOMPARE(jobs.currentId(), JobTracker::Id(0));
        const auto a = jobs.start();
        const auto cancelledA = jobs.cancelCheck(a);
        QVERIFY(jobs.isBusy());
        QVERIFY(jobs.isCurrent(a));
        QVERIFY(!cancelledA());
        const auto b = jobs.start();
        QVERIFY(b != a);
        QVERIFY(jobs.isCancelled(a)); // superseded counts as cancelled
        QVERIFY(cancelledA());
        QVERIFY(jobs.isCurrent(b));
        QVERIFY(!jobs.finish(a)); // a stale job may not deliver
        QVERIFY(jobs.isBusy());
        QVERIFY(jobs.finish(b));
        QVERIFY(!jobs.isBusy());
        const auto c = jobs.start();
        jobs.cancel();
        QVERIFY(jobs.isCancelled(c));
        QVERIFY(!jobs.isBusy());
        QVERIFY(!jobs.finish(c));
    }

    // A worker set exclusive runs its jobs alone: after the running jobs of other workers end,
    // and before those started meanwhile begin; jobs of ordinary workers overlap.
    void exclusiveJobsRunAlone()
    {
        std::mutex mutex;
        std::vector<std::string> events;
        auto note = [&](std::string e) {
            std::lock_guard lock(mutex);
            events.push_back(std::move(e));
        };
        QSemaphore started, release, aEnded, timingQueued;
        JobWorker a, b, timing;
        timing.setExclusive(true);
        a.start([&] {
            note("a begins");
            started.release();
            release.acquire(); // held until b has begun: the two overlap
            note("a ends");
            aEnded.release();
        });
        started.acquire();
        b.start([&] {
            note("b begins");
            release.release();
            aEnded.acquire();
            timingQueued.acquire(); // still running when the exclusive job asks for the gate
            QThread::msleep(50);
            note("b ends");
        });
        a.waitForIdle();
        timing.start([&] {
            note("timing begins");
            a.start([&] { note("a again"); }); // started meanwhile: waits for the timing job
            QThread::msleep(50);
            note("timing ends");
        });
        timingQueued.release();
        b.waitForIdle();
        timing.waitForIdle();
        a.waitForIdle();
        const std::vector<std::string> want = {"a begins", "b begins", "a ends",      "b ends",
                                               "timing begins", "timing ends", "a again"};
        QCOMPARE(events, want);
    }

    void supersededResultIsDropped()
    {
        QObject context;
        JobTracker jobs(&context);
        QThreadPool pool;
        pool.setMaxThreadCount(2);
        QSemaphore go;
        QStringList delivered;
        auto job = [&](JobTracker::Id id, const QString& result) {
            pool.start([&, id, result] {
                go.acquire(); // both jobs finish after the second request
                jobs.post(id, [&delivered, result] { delivered << result; });
            });
        };
        const auto first = jobs.start();
        job(first, QStringLiteral("first"));
        const auto second = jobs.start();
        job(second, QStringLiteral("second"));
        go.release(2);
        pool.waitForDone();
        QVERIFY(delivered.isEmpty()); // queued: nothing runs before the event loop
        QCoreApplication::processEvents();
        QCOMPARE(delivered, QStringList{QStringLiteral("second")});
    }

    void currencyCheckedOnDelivery()
    {
        QObject context;
        JobTracker jobs(&context);
        QStringList delivered;
        const auto id = jobs.start();
        jobs.post(id, [&] { delivered << QStringLiteral("late"); });
        jobs.start(); // superseded after posting, before the call arrives
        QCoreApplication::processEvents();
        QVERIFY(delivered.isEmpty());
        const auto current = jobs.currentId();
        jobs.post(current, [&] { delivered << QStringLiteral("current"); });
        QCoreApplication::processEvents();
        QCOMPARE(delivered, QStringList{QStringLiteral("current")});
    }

    // run(): the job on the worker, its result on the context's thread only through the event
    // loop, even when the job is over long before (a continuation run inside the request could
    // report before a newer request superseded it); jobs run in the order they came.
    void runDeliversThroughTheEventLoop()
    {
        QObject context;
        JobTracker jobs(&context);
        QList<int> order;
        QList<int> delivered;
        for (int i = 0; i < 3; ++i)
            jobs.run([i, &order] { order << i; return i * i; }, [&delivered](const int& r) { delivered << r; });
        jobs.waitForIdle(); // every job is done and its result queued
        QCOMPARE(order, (QList<int>{0, 1, 2}));
        QVERIFY(delivered.isEmpty());
        QCoreApplication::processEvents();
        QCOMPARE(delivered, (QList<int>{0, 1, 4}));
        // A queued result is dropped with the tracker.
        bool late = false;
        {
            JobTracker doomed(&context);
            doomed.run([] { return 1; }, [&late](const int&) { late = true; });
            doomed.waitForIdle();
        }
        QCoreApplication::processEvents();
        QVERIFY(!late);
    }

    void loaderReportsNewestOpenOnly()
    {
        ModelLoader loader;
        std::vector<std::shared_ptr<const bonsai::Model>> loaded;
        connect(&loader, &ModelLoader::loaded, this,
                [&](std::shared_ptr<const bonsai::Model> m, const QString&) { loaded.push_back(std::move(m)); });
        QSignalSpy failed(&loader, &ModelLoader::failed);
        loader.open(testutil::tempDir() + QStringLiteral("/missing.onnx")); // would fail
        loader.open(QStringLiteral(BONSAI_DEMO_MODEL));
        QVERIFY(loader.isBusy());
        QTRY_VERIFY_WITH_TIMEOUT(!loader.isBusy(), 30000);
        QCOMPARE(loaded.size(), size_t(1));
        QCOMPARE(failed.size(), 0); // the superseded request's failure is dropped
        const auto& model = loaded.front();
        QCOMPARE(model->layers.size(), size_t(4)); // layer1.conv, layer2.conv, fc1, fc2
        QCOMPARE(model->totalParams(), uint64_t(225322));
    }

    void statsReportNewestRequestOnly()
    {
        const std::shared_ptr<const bonsai::Model> model = bonsai::Model::open(BONSAI_DEMO_MODEL);
        StatsRunner stats;
        stats.setModel(model);
        QSignalSpy finished(&stats, &StatsRunner::finished);
        const int fc1 = model->layers[2].weight;
        const int fc2 = model->layers[3].weight;
        stats.request(fc1, 0, QStringLiteral("fc1"));
        stats.request(fc2, 0, QStringLiteral("fc2"));
        QTRY_VERIFY_WITH_TIMEOUT(!stats.isBusy(), 30000);
        QTest::qWait(50); // a late report of fc1 would arrive now
        QCOMPARE(finished.size(), 1);
        const auto r = finished.at(0).at(0).value<StatsResult>();
        QCOMPARE(r.label, QStringLiteral("fc2"));
        QCOMPARE(r.stats->count, uint64_t(10 * 128)); // fc2: 10 × 128 weights
    }
};

QTEST_GUILESS_MAIN(TstSessionJobTracker)
#include "tst_session_jobtracker.moc"
