#include "jobrunner.h"

#include "bonsai/progress.h"
#include "formatting.h"

#include <QThread>

#include <algorithm>

namespace bonsai::ui {

bool JobControl::isCancelled() const { return m_target->m_jobs.isCancelled(m_id); }

bool JobControl::progress(double fraction)
{
    if (isCancelled())
        return false;
    double f = std::clamp(fraction, 0.0, 1.0);
    double eta = -1;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        f = std::max(f, m_lastFraction); // monotonic, whatever the phases report
        const qint64 now = m_clock.elapsed();
        const bool changed = f > m_lastFraction || m_lastEmitMs < 0;
        if (!changed || (now - m_lastEmitMs < JobRunner::ProgressIntervalMs && f < 1.0))
            return !isCancelled();
        if (m_firstMs < 0 && f > 0) {
            m_firstMs = now;
            m_firstFraction = f;
        }
        if (f >= 1.0) {
            m_eta = 0;
        } else if (m_firstMs >= 0) {
            const double raw = remainingSeconds(m_firstFraction, (now - m_firstMs) / 1000.0, f);
            if (raw >= 0)
                m_eta = m_eta < 0 ? raw : 0.7 * m_eta + 0.3 * raw; // smoothed
        }
        m_lastEmitMs = now;
        m_lastFraction = f;
        eta = m_eta;
    }
    JobRunner* t = m_target;
    m_target->m_jobs.post(m_id, [t, id = m_id, f, eta] { emit t->progress(id, f, eta); });
    return !isCancelled();
}

double JobControl::remainingSeconds(double firstFraction, double secondsSinceFirst, double fraction)
{
    const double done = fraction - firstFraction;
    if (done < 0.02 || secondsSinceFirst < 0.2)
        return -1;
    return (1.0 - fraction) * secondsSinceFirst / done;
}

void JobControl::post(std::function<void()> deliver)
{
    if (!isCancelled())
        m_target->m_jobs.post(m_id, std::move(deliver));
}

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner()
{
    m_jobs.cancel();
    m_jobs.waitForIdle();
}

quint64 JobRunner::startErased(const QString& label, Erased work)
{
    Q_ASSERT(QThread::currentThread() == thread());
    cancel(); // newest wins
    auto ctl = std::make_shared<JobControl>();
    ctl->m_target = this;
    ctl->m_id = m_jobs.start();
    emit started(ctl->m_id, label);
    struct Outcome {
        std::function<void()> deliver;
        QString error;
        bool wasCancelled = false;
    };
    m_jobs.run(
        [ctl, work = std::move(work)] {
            Outcome out;
            out.wasCancelled = ctl->isCancelled(); // superseded before it began: never runs
            if (!out.wasCancelled) {
                ctl->m_clock.start();
                try {
                    out.deliver = work(*ctl);
                } catch (const bonsai::Cancelled&) {
                    out.wasCancelled = true;
                } catch (const std::exception& e) {
                    out.error = errorText(e);
                } catch (...) {
                    out.error = QStringLiteral("unexpected error");
                }
            }
            out.wasCancelled = out.wasCancelled || ctl->isCancelled();
            return out;
        },
        [this, id = ctl->m_id](const Outcome& o) { onDone(id, o.deliver, o.error, o.wasCancelled); });
    return ctl->m_id;
}

void JobRunner::cancel()
{
    if (!m_jobs.isBusy())
        return;
    const JobTracker::Id id = m_jobs.currentId();
    m_jobs.cancel();
    emit cancelled(id);
}

void JobRunner::onDone(quint64 id, const std::function<void()>& deliver, const QString& error,
                       bool wasCancelled)
{
    if (!m_jobs.finish(id))
        return; // stale: cancelled or superseded (cancelled() was emitted then)
    if (wasCancelled) {
        emit cancelled(id);
    } else if (!error.isEmpty()) {
        emit failed(id, error);
    } else {
        if (deliver)
            deliver();
        emit finished(id);
    }
}

} // namespace bonsai::ui
