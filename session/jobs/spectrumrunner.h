#pragma once
// Singular-value spectra of layers for the rank control's energy curve, computed off the GUI
// thread and cached per layer. Newest request wins (JobTracker): only the last request
// reports; results of superseded jobs still go into the cache.
#include "jobtracker.h"

#include "bonsai/lowrank.h"

#include <QHash>
#include <QObject>

#include <memory>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class SpectrumRunner : public QObject {
    Q_OBJECT
public:
    static constexpr uint64_t TopK = 256; // values beyond are estimated only for small layers

    explicit SpectrumRunner(QObject* parent = nullptr);
    ~SpectrumRunner() override;

    void setModel(std::shared_ptr<const bonsai::Model> model);
    // Emits ready() at once from the cache, or starts a job.
    void request(int layer);
    const bonsai::Spectrum* cached(int layer) const;

signals:
    void started(int layer);
    void ready(int layer, std::shared_ptr<const bonsai::Spectrum> spectrum);
    void failed(int layer, const QString& message);

private:
    std::shared_ptr<const bonsai::Model> m_model;
    QHash<int, std::shared_ptr<const bonsai::Spectrum>> m_cache;
    JobTracker m_jobs{this};
};

} // namespace bonsai::ui
