#include "jobtracker.h"

#include <QCoreApplication>
#include <QEvent>
#include <QThread>

namespace bonsai::ui {

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
        m_queue.push_back(std::move(job));
        if (!m_thread.joinable())
            m_thread = std::thread([this] { loop(); });
    }
    m_wake.notify_one();
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
        std::function<void()> job = std::move(m_queue.front());
        m_queue.pop_front();
        m_running = true;
        lock.unlock();
        job();
        job = nullptr; // its captures go before the job counts as done
        lock.lock();
        m_running = false;
        if (m_queue.empty())
            m_idle.notify_all();
    }
}

void JobMailbox::push(std::function<void()> call)
{
    {
        std::lock_guard lock(m_mutex);
        m_calls.push_back(std::move(call));
    }
    // The wake-up carries nothing: the call itself went through m_mutex.
    QCoreApplication::postEvent(this, new QEvent(QEvent::User));
}

void JobMailbox::customEvent(QEvent*)
{
    std::function<void()> call;
    {
        std::lock_guard lock(m_mutex);
        if (m_calls.empty())
            return;
        call = std::move(m_calls.front());
        m_calls.pop_front();
    }
    call(); // may delete this mailbox's tracker: nothing of this object is used after it
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
