#pragma once
// Computes tensor statistics off the GUI thread. Newest request wins: a new request makes
// the running job cancel at its next progress check and stale results are never shown.
// Results are cached per (tensor, channel axis) for the lifetime of the model.
#include "statsresult.h"

#include <QFuture>
#include <QHash>
#include <QObject>
#include <QThreadPool>

#include <atomic>
#include <memory>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class StatsRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int HistogramBins = 128;

    explicit StatsRunner(QObject* parent = nullptr);
    ~StatsRunner() override;

    // Drops the cache and cancels any running job.
    void setModel(std::shared_ptr<const bonsai::Model> model);
    // Emits finished() at once from the cache, or starts a job.
    void request(int tensor, int channelAxis, const QString& label);
    void cancel();
    bool isBusy() const { return m_busy; }

signals:
    void started(const QString& label);
    void progress(const QString& label, double fraction); // throttled, current job only
    void finished(const bonsai::ui::StatsResult& result);
    void failed(const QString& label, const QString& message);

private:
    struct Outcome {
        quint64 generation = 0;
        quint64 modelEpoch = 0;
        StatsResult result;
        QString error;
        bool cancelled = false;
    };
    static quint64 key(int tensor, int axis) { return (quint64(quint32(tensor)) << 32) | quint32(axis); }
    void onDone(const Outcome& outcome);

    std::shared_ptr<const bonsai::Model> m_model;
    std::shared_ptr<std::atomic<quint64>> m_generation;
    QHash<quint64, StatsResult> m_cache;
    QThreadPool m_pool; // one job at a time; stale jobs return at their first check
    quint64 m_modelEpoch = 0;
    bool m_busy = false;
};

} // namespace bonsai::ui
