#include "jobtracker.h"

#include <QCoreApplication>
#include <QEvent>
#include <QPointer>

namespace bonsai::ui {

namespace {

// The gate every job runs under: many shared holders, or one exclusive holder. An exclusive
// request waiting keeps new shared holders out, so a stream of ordinary jobs cannot starve
// it (std::shared_mutex on glibc lets readers pass a waiting writer).
class JobGate {
public:
    void lock(bool exclusive)
    {
        std::unique_lock lock(m_mutex);
        if (exclusive) {
            ++m_waiting;
            m_free.wait(lock, [this] { return !m_exclusive && m_shared == 0; });
            --m_waiting;
            m_exclusive = true;
        } else {
            m_free.wait(lock, [this] { return !m_exclusive && m_waiting == 0; });
            ++m_shared;
        }
    }
    void unlock(bool exclusive)
    {
        {
            std::lock_guard lock(m_mutex);
            if (exclusive)
                m_exclusive = false;
            else
                --m_shared;
        }
        m_free.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_free;
    int m_shared = 0, m_waiting = 0;
    bool m_exclusive = false;
};

JobGate& jobGate()
{
    static JobGate gate;
    return gate;
}

} // namespace

JobWorker::~JobWorker()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable())
        m_thread.join(); // the loop runs what is queued before it stops
}

void JobWorker::start(std::function<void()> job)
{
    {
        std::lock_guard lock(m_mutex);
        m_queue.emplace_back(std::move(job), m_exclusive);
        if (!m_thread.joinable())
            m_thread = std::thread([this] { loop(); });
    }
    m_wake.notify_one();
}

void JobWorker::setExclusive(bool on)
{
    std::lock_guard lock(m_mutex);
    m_exclusive = on;
}

void JobWorker::waitForIdle()
{
    std::unique_lock lock(m_mutex);
    m_idle.wait(lock, [this] { return m_queue.empty() && !m_running; });
}

void JobWorker::loop()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
        if (m_queue.empty())
            return; // stopping, and nothing is left
        auto [job, exclusive] = std::move(m_queue.front());
        m_queue.pop_front();
        m_running = true;
        lock.unlock();
        jobGate().lock(exclusive);
        job(); // the job runners catch what their work throws
        job = nullptr; // its captures go before the job counts as done
        jobGate().unlock(exclusive);
        lock.lock();
        m_running = false;
        if (m_queue.empty())
            m_idle.notify_all();
    }
}

JobMailbox::JobMailbox() : m_wakeUp(new QEvent(QEvent::User)) {}

JobMailbox::~JobMailbox() { delete m_wakeUp; } // one in flight is deleted by Qt with its receiver

void JobMailbox::push(std::function<void()> call)
{
    QEvent* wakeUp = nullptr;
    {
        std::lock_guard lock(m_mutex);
        m_calls.push_back(std::move(call));
        std::swap(wakeUp, m_wakeUp);
    }
    if (wakeUp) // else one is on its way and will run this call too
        QCoreApplication::postEvent(this, wakeUp);
}

void JobMailbox::customEvent(QEvent*)
{
    std::deque<std::function<void()>> calls;
    {
        std::lock_guard lock(m_mutex);
        calls.swap(m_calls);
        if (!m_wakeUp)
            m_wakeUp = new QEvent(QEvent::User); // the next push posts it
    }
    const QPointer<JobMailbox> self(this);
    for (auto& call : calls) {
        call();
        if (!self)
            return; // a call deleted the tracker: its remaining calls are dropped with it
    }
}

JobTracker::JobTracker(QObject* context) : m_mailbox(std::make_unique<JobMailbox>()), m_worker(std::make_unique<JobWorker>())
{
    if (context)
        m_mailbox->moveToThread(context->thread());
}

JobTracker::~JobTracker()
{
    cancel();          // running jobs stop at their next check
    m_worker.reset();  // waits for them; their deliveries are dropped with the mailbox
}

} // namespace bonsai::ui
