#pragma once
// Computes tensor statistics off the GUI thread. Newest request wins (JobTracker): a new
// request makes the running job cancel at its next progress check and stale results are
// never shown (a stale job's finished statistics still go into the cache).
// Results are cached per (tensor, channel axis) for the lifetime of the model.
#include "jobtracker.h"
#include "statsresult.h"

#include <QHash>
#include <QObject>

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
    bool isBusy() const { return m_jobs.isBusy(); }

signals:
    void started(const QString& label);
    void progress(const QString& label, double fraction); // throttled, current job only
    void finished(const bonsai::ui::StatsResult& result);
    void failed(const QString& label, const QString& message);

private:
    struct Outcome {
        JobTracker::Id id = 0;
        std::shared_ptr<const bonsai::Model> model; // the model it was computed for
        StatsResult result;
        QString error;
        bool cancelled = false;
    };
    static quint64 key(int tensor, int axis) { return (quint64(quint32(tensor)) << 32) | quint32(axis); }
    void onDone(const Outcome& outcome);

    std::shared_ptr<const bonsai::Model> m_model;
    QHash<quint64, StatsResult> m_cache;
    JobTracker m_jobs{this}; // one job at a time; stale jobs return at their first check
};

} // namespace bonsai::ui
