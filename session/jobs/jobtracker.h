#pragma once
// Newest request wins, for every background runner of the session layer (after hotspot's
// JobTracker). Contract:
//  - start() gives each request a new id and makes it the current job; the job before it is
//    superseded, and a superseded job counts as cancelled (isCancelled(id), cancelCheck(id));
//  - cancel() supersedes the current job without starting another;
//  - run(job, done) runs job() on the tracker's worker thread (jobs run one after another, in
//    order) and then done(result) on the context's thread through the event loop: never
//    inside run(), even when the job is over before run() returns, and whether or not the
//    job is still current (done decides, usually with finish());
//  - post(id, f) queues f to the context's thread and runs it there only if the job is still
//    current when the call arrives: results of stale jobs are dropped;
//  - finish(id) on the context's thread: true (and not busy any more) if the job is current.
// start(), cancel(), finish(), run(), waitForIdle(), isBusy() and currentId() belong to the
// context's thread; isCurrent(), isCancelled(), cancelCheck() and post() may be called from
// any thread. The state the workers see is shared, so a cancel check stays valid after the
// tracker is gone; the tracker must outlive the jobs and posts it was given (its destructor
// cancels, waits for the worker and drops what is still queued).
// Every handoff between threads goes through a std::mutex of ours (JobWorker's queue of
// jobs, JobMailbox's queue of deliveries); Qt only carries a wake-up call without data, so
// the synchronization is visible to ThreadSanitizer even though Qt itself is not built for it.
// Qt Core only.
#include <QObject>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace bonsai::ui {

// One background thread running jobs in the order they came (started on the first job).
// Every job of every worker runs holding one process-wide gate: shared, or alone for a worker
// set exclusive, whose jobs time this machine (the Speed measurement) and must not share the
// cores with another job's threads (two OpenMP teams spinning on two cores made a 3 ms
// prefill take 121 ms). An exclusive job waits for the running jobs to end; jobs started
// meanwhile wait for it. A job must not throw (JobRunner's catch what their work throws).
class JobWorker {
public:
    JobWorker() = default;
    ~JobWorker(); // waits for the queued jobs, then ends the thread
    JobWorker(const JobWorker&) = delete;
    JobWorker& operator=(const JobWorker&) = delete;

    void start(std::function<void()> job);
    void waitForIdle(); // until every queued job has run
    void setExclusive(bool on); // for the jobs started from now on

private:
    void loop();

    std::mutex m_mutex; // guards the fields below
    std::condition_variable m_wake, m_idle;
    std::deque<std::pair<std::function<void()>, bool>> m_queue; // (job, exclusive)
    bool m_exclusive = false;
    bool m_running = false; // a job is out of the queue and running
    bool m_stop = false;
    std::thread m_thread;
};

// Calls queued from any thread, run on this object's thread in the order they came. One
// wake-up event is in flight at a time, and it is allocated on this object's thread (Qt
// frees it here after delivery), so no memory changes threads through Qt alone.
class JobMailbox : public QObject {
public:
    JobMailbox();
    ~JobMailbox() override;
    void push(std::function<void()> call);

protected:
    void customEvent(QEvent* event) override; // the wake-up: runs the calls queued so far

private:
    std::mutex m_mutex; // guards the fields below
    std::deque<std::function<void()>> m_calls;
    QEvent* m_wakeUp; // the next wake-up to post; nullptr while one is in flight
};

class JobTracker {
public:
    using Id = quint64;

    explicit JobTracker(QObject* context);
    ~JobTracker();
    JobTracker(const JobTracker&) = delete;
    JobTracker& operator=(const JobTracker&) = delete;

    Id start()
    {
        const Id id = ++m_next;
        m_current->store(id);
        m_busy = true;
        return id;
    }
    void cancel()
    {
        m_current->store(0);
        m_busy = false;
    }
    bool finish(Id id)
    {
        if (!isCurrent(id))
            return false;
        m_busy = false;
        return true;
    }

    bool isBusy() const { return m_busy; }
    Id currentId() const { return m_current->load(); } // 0: none
    bool isCurrent(Id id) const { return id != 0 && m_current->load() == id; }
    bool isCancelled(Id id) const { return !isCurrent(id); }
    // For worker code that outlives nothing it should not: true once the job was superseded.
    std::function<bool()> cancelCheck(Id id) const
    {
        return [current = m_current, id] { return current->load() != id; };
    }

    template <typename F>
    void post(Id id, F&& f) const
    {
        m_mailbox->push([current = m_current, id, f = std::forward<F>(f)]() mutable {
            if (id != 0 && current->load() == id)
                f();
        });
    }

    template <typename Job, typename Done>
    void run(Job job, Done done)
    {
        m_worker->start([mailbox = m_mailbox.get(), job = std::move(job), done = std::move(done)]() mutable {
            auto result = job();
            mailbox->push([done, result = std::move(result)] { done(result); });
        });
    }
    void waitForIdle() { m_worker->waitForIdle(); } // processing no events; tests and shutdown
    void setExclusive(bool on) { m_worker->setExclusive(on); } // see JobWorker

private:
    std::shared_ptr<std::atomic<Id>> m_current = std::make_shared<std::atomic<Id>>(0);
    std::unique_ptr<JobMailbox> m_mailbox;
    std::unique_ptr<JobWorker> m_worker; // ends before the mailbox it delivers to
    Id m_next = 0;
    bool m_busy = false;
};

} // namespace bonsai::ui
