#include "statsrunner.h"

#include "formatting.h"

#include "bonsai/model.h"

#include <QElapsedTimer>
#include <QThread>

#include <mutex>

namespace bonsai::ui {

StatsRunner::StatsRunner(QObject* parent) : QObject(parent) {}

StatsRunner::~StatsRunner()
{
    m_jobs.cancel(); // whatever runs stops at its next check
    m_jobs.waitForIdle();
}

void StatsRunner::setModel(std::shared_ptr<const bonsai::Model> model)
{
    cancel();
    m_cache.clear();
    m_model = std::move(model);
}

void StatsRunner::cancel() { m_jobs.cancel(); }

void StatsRunner::request(int tensor, int channelAxis, const QString& label)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (!m_model || tensor < 0 || static_cast<size_t>(tensor) >= m_model->tensors.size()) {
        m_jobs.cancel();
        return;
    }
    if (auto it = m_cache.constFind(key(tensor, channelAxis)); it != m_cache.cend()) {
        m_jobs.cancel();
        StatsResult r = *it;
        r.label = label;
        emit finished(r);
        return;
    }
    const JobTracker::Id id = m_jobs.start();
    emit started(label);

    auto job = [this, model = m_model, id, cancelled = m_jobs.cancelCheck(id), tensor, channelAxis, label]() {
        Outcome out;
        out.id = id;
        out.model = model;
        out.result.tensor = tensor;
        out.result.channelAxis = channelAxis;
        out.result.label = label;
        if (cancelled()) {
            out.cancelled = true;
            return out;
        }
        std::mutex throttleMutex;
        QElapsedTimer clock;
        clock.start();
        qint64 lastReport = -1000;
        auto onProgress = [&](double fraction) {
            if (cancelled())
                return false;
            std::lock_guard lock(throttleMutex);
            if (clock.elapsed() - lastReport >= 100) {
                lastReport = clock.elapsed();
                // `this` outlives the job: the destructor waits for the pool.
                m_jobs.post(id, [this, label, fraction] { emit progress(label, fraction); });
            }
            return true;
        };
        try {
            bonsai::StatsOptions opt;
            opt.bins = HistogramBins;
            opt.channelAxis = channelAxis;
            out.result.stats = std::make_shared<const bonsai::TensorStats>(
                bonsai::computeStats(*model, tensor, opt, onProgress));
        } catch (const bonsai::Cancelled&) {
            out.cancelled = true;
        } catch (const std::exception& e) {
            out.error = errorText(e);
        }
        return out;
    };
    m_jobs.run(job, [this](const Outcome& o) { onDone(o); });
}

void StatsRunner::onDone(const Outcome& o)
{
    if (o.result.stats && o.model == m_model)
        m_cache.insert(key(o.result.tensor, o.result.channelAxis), o.result); // even if stale
    if (!m_jobs.finish(o.id) || o.cancelled)
        return;
    if (o.result.stats)
        emit finished(o.result);
    else
        emit failed(o.result.label, o.error);
}

} // namespace bonsai::ui
