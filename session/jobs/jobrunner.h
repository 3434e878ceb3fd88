#pragma once
// A reusable background-job runner (Qt Core only). Runs one core function at a time on its
// own worker thread, never the GUI thread:
//  - progress with an ETA: signals throttled to one per ProgressIntervalMs, the ETA from the
//    rate since the first progress report (so setup before it, such as loading data, does not
//    count as work still to come), smoothed;
//  - cancel at any moment: the job's progress callback answers false from then on, so core
//    code (which checks it between batches, nodes or layers) throws bonsai::Cancelled at its
//    next check;
//  - newest request wins (JobTracker): start() cancels the running job and drops its result;
//    jobs that were superseded before they began never run;
//  - results reach a receiver guarded by a QPointer, only if the job is still the newest.
// Jobs run one after another (a single worker), so they may share state such as an
// Evaluator and its caches without locks.
#include "jobtracker.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

namespace bonsai::ui {

// What a running job sees: its progress/cancel callback and a channel for partial results.
class JobControl {
public:
    // Reports the fraction done in [0, 1]; false once the job was cancelled or superseded
    // (a bonsai::ProgressFn).
    bool progress(double fraction);
    bool isCancelled() const;
    // Runs `deliver` on the GUI thread if the job is still current by then.
    void post(std::function<void()> deliver);

    // Seconds left at `fraction`, from the rate since the first report (`firstFraction`,
    // `secondsSinceFirst` ago): (1 - f) * t / (f - f0). -1 while that is too little to go by
    // (under 2% more done or 0.2 s passed).
    static double remainingSeconds(double firstFraction, double secondsSinceFirst, double fraction);

private:
    friend class JobRunner;
    class JobRunner* m_target = nullptr; // outlives the job: ~JobRunner waits for it
    JobTracker::Id m_id = 0;
    QElapsedTimer m_clock;
    std::mutex m_mutex; // guards the fields below
    qint64 m_lastEmitMs = -1000000;
    double m_lastFraction = 0;
    qint64 m_firstMs = -1;      // when the first report with a fraction above zero came
    double m_firstFraction = 0; // and that fraction
    double m_eta = -1;
};

class JobRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int ProgressIntervalMs = 50;

    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override; // cancels and waits for the running job

    // Starts `work` on the worker; the previous job is cancelled and its result dropped.
    // `deliver` runs on the GUI thread with the result when the job ends while still current
    // and `receiver` still exists. An exception other than bonsai::Cancelled becomes failed().
    template <typename Result>
    quint64 start(const QString& label, std::function<Result(JobControl&)> work, QObject* receiver,
                  std::function<void(const Result&)> deliver)
    {
        QPointer<QObject> guard(receiver);
        return startErased(label, [work = std::move(work), guard, deliver = std::move(deliver)](JobControl& c) {
            auto result = std::make_shared<Result>(work(c));
            return std::function<void()>([guard, deliver, result] {
                if (guard)
                    deliver(*result);
            });
        });
    }

    // Jobs that time this machine run alone: no other runner's job beside them (JobWorker).
    void setExclusive(bool on) { m_jobs.setExclusive(on); }
    void cancel(); // the running job (if any) stops at its next check; emits cancelled()
    bool isBusy() const { return m_jobs.isBusy(); }
    quint64 currentId() const { return m_jobs.currentId(); }
    // Waits (processing no events) until the worker is idle; for tests and shutdown.
    void waitForIdle() { m_jobs.waitForIdle(); }

signals:
    void started(quint64 id, const QString& label);
    // fraction in [0, 1], non-decreasing per job; etaSeconds < 0 while unknown.
    void progress(quint64 id, double fraction, double etaSeconds);
    void finished(quint64 id);            // the result was delivered
    void failed(quint64 id, const QString& message);
    void cancelled(quint64 id);

private:
    using Erased = std::function<std::function<void()>(JobControl&)>;
    quint64 startErased(const QString& label, Erased work);
    void onDone(quint64 id, const std::function<void()>& deliver, const QString& error, bool wasCancelled);
    friend class JobControl;

    JobTracker m_jobs{this}; // the current job and the worker; a superseded or cancelled job is not current
};

} // namespace bonsai::ui
