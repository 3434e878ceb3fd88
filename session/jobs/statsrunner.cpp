#include "statsrunner.h"

#include "bonsai/model.h"

#include <QElapsedTimer>
#include <QThread>
#include <QtConcurrent/QtConcurrentRun>

#include <mutex>

namespace bonsai::ui {

StatsRunner::StatsRunner(QObject* parent)
    : QObject(parent), m_generation(std::make_shared<std::atomic<quint64>>(0))
{
    m_pool.setMaxThreadCount(1);
}

StatsRunner::~StatsRunner()
{
    ++*m_generation; // cancel whatever runs
    m_pool.waitForDone();
}

void StatsRunner::setModel(std::shared_ptr<const bonsai::Model> model)
{
    cancel();
    ++m_modelEpoch;
    m_cache.clear();
    m_model = std::move(model);
}

void StatsRunner::cancel()
{
    ++*m_generation;
    m_busy = false;
}

void StatsRunner::request(int tensor, int channelAxis, const QString& label)
{
    Q_ASSERT(QThread::currentThread() == thread());
    const quint64 gen = ++*m_generation;
    if (!m_model || tensor < 0 || static_cast<size_t>(tensor) >= m_model->tensors.size()) {
        m_busy = false;
        return;
    }
    if (auto it = m_cache.constFind(key(tensor, channelAxis)); it != m_cache.cend()) {
        m_busy = false;
        StatsResult r = *it;
        r.label = label;
        emit finished(r);
        return;
    }
    m_busy = true;
    emit started(label);

    auto model = m_model;
    auto generation = m_generation;
    auto job = [this, model, generation, gen, epoch = m_modelEpoch, tensor, channelAxis, label]() {
        Outcome out;
        out.generation = gen;
        out.modelEpoch = epoch;
        out.result.tensor = tensor;
        out.result.channelAxis = channelAxis;
        out.result.label = label;
        if (generation->load() != gen) {
            out.cancelled = true;
            return out;
        }
        std::mutex throttleMutex;
        QElapsedTimer clock;
        clock.start();
        qint64 lastReport = -1000;
        auto onProgress = [&](double fraction) {
            if (generation->load() != gen)
                return false;
            std::lock_guard lock(throttleMutex);
            if (clock.elapsed() - lastReport >= 100) {
                lastReport = clock.elapsed();
                // `this` outlives the job: the destructor waits for the pool.
                QMetaObject::invokeMethod(this, [this, gen, label, fraction] {
                    if (m_generation->load() == gen)
                        emit progress(label, fraction);
                }, Qt::QueuedConnection);
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
            out.error = QString::fromUtf8(e.what());
        }
        return out;
    };
    QtConcurrent::run(&m_pool, job).then(this, [this](const Outcome& o) { onDone(o); });
}

void StatsRunner::onDone(const Outcome& o)
{
    const bool current = o.generation == m_generation->load();
    if (o.result.stats && o.modelEpoch == m_modelEpoch)
        m_cache.insert(key(o.result.tensor, o.result.channelAxis), o.result); // even if stale
    if (!current || o.cancelled)
        return;
    m_busy = false;
    if (o.result.stats)
        emit finished(o.result);
    else
        emit failed(o.result.label, o.error);
}

} // namespace bonsai::ui
