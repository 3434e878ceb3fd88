#pragma once
// The speed job, without widgets: the open model measured on this machine twice, as it is
// (FP32 for floating-point checkpoints) and compressed as configured (bonsai/speed.h:
// language models on the KV-cached decoder, classifiers on the executor), one after the
// other on a JobRunner's worker, with progress over both and cancel. Newest request wins.
// Also: why a model cannot be measured, and a comparison's latency for the trade-off chart.
#include "bonsai/layer_config.h"
#include "bonsai/speed.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class JobRunner;

struct SpeedRequest {
    std::shared_ptr<const bonsai::Model> model;
    std::vector<bonsai::LayerConfig> configs; // the configuration measured beside the original
    bonsai::SpeedOptions options;
};

// Both measures of one run. When no layer is compressed, `configured` is `original`; when the
// original was not measured (originalSkipped says why), `original` is null.
struct SpeedComparison {
    std::shared_ptr<const bonsai::SpeedResult> original, configured;
    std::vector<bonsai::LayerConfig> configs;
    QString label; // how the configured model is compressed ("int8 (all 4 layers)")
    QString originalSkipped;
    bool compressed() const { return original != configured; }
    bool both() const { return original && compressed(); }
};

class SpeedRunner : public QObject {
    Q_OBJECT
public:
    using Done = std::function<void(const SpeedComparison&)>;
    // Stage names reported beside the progress: the original model, then the configured one.
    using Stage = std::function<void(const QString&)>;

    explicit SpeedRunner(QObject* parent = nullptr);
    ~SpeedRunner() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }
    // Starts a run (the previous one is cancelled); `stage` and `done` run on this object's
    // thread while `receiver` exists. Returns the job id (JobRunner's).
    quint64 start(const SpeedRequest& request, QObject* receiver, Stage stage, Done done);

    // Why `model` (nullptr: none open) cannot be measured; empty when it can.
    static QString unsupportedReason(const bonsai::Model* model);
    // What the original model's weights are: "FP32" when every bound layer is F32 (or a
    // classifier's float weights), else "original".
    static QString originalName(const bonsai::SpeedResult& original);
    // Why the uncompressed language model is not measured beside the configured one: its
    // weights as the decoder binds them (float rows for types without kernels) would take
    // more than half of `physicalBytes`; empty when it fits.
    static QString originalTooLarge(const bonsai::Model& model, uint64_t physicalBytes);
    static uint64_t physicalMemoryBytes();

private:
    JobRunner* m_runner;
};

} // namespace bonsai::ui
