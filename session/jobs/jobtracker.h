#pragma once
// Newest request wins, for every background runner of the session layer (after hotspot's
// JobTracker). Contract:
//  - start() gives each request a new id and makes it the current job; the job before it is
//    superseded, and a superseded job counts as cancelled (isCancelled(id), cancelCheck(id));
//  - cancel() supersedes the current job without starting another;
//  - post(id, f) queues f to the context object's thread and runs it there only if the job
//    is still current when the call arrives: results of stale jobs are dropped;
//  - finish(id) on the context's thread: true (and not busy any more) if the job is current.
// start(), cancel(), finish(), isBusy() and currentId() belong to the context's thread;
// isCurrent(), isCancelled(), cancelCheck() and post() may be called from any thread. The
// state the workers see is shared, so a cancel check stays valid after the tracker is gone;
// the context must outlive queued posts' delivery (Qt drops them for a deleted receiver).
// Qt Core only.
#include <QMetaObject>
#include <QObject>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

namespace bonsai::ui {

class JobTracker {
public:
    using Id = quint64;

    explicit JobTracker(QObject* context) : m_context(context) {}
    ~JobTracker() { cancel(); } // whatever is still queued is dropped
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
        QMetaObject::invokeMethod(
            m_context,
            [current = m_current, id, f = std::forward<F>(f)]() mutable {
                if (id != 0 && current->load() == id)
                    f();
            },
            Qt::QueuedConnection);
    }

private:
    QObject* m_context;
    std::shared_ptr<std::atomic<Id>> m_current = std::make_shared<std::atomic<Id>>(0);
    Id m_next = 0;
    bool m_busy = false;
};

} // namespace bonsai::ui
