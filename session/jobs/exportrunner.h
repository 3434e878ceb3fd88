#pragma once
// The export job, without widgets: the pre-export check of the open model for a format, the
// quality predicted for the weights written (with progress and cancel), and the writing of the
// file (with progress and cancel), each on the JobRunner's worker. The core writes through a
// temporary file renamed at the end, so a cancelled or failed export leaves nothing.
#include "exportprediction.h"

#include "bonsai/export.h"

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

class ExportRunner : public QObject {
    Q_OBJECT
public:
    explicit ExportRunner(QObject* parent = nullptr);
    ~ExportRunner() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }

    // The check, on the worker (the ONNX check computes every compressed layer): `done` runs on
    // this object's thread with the plan, or with an empty plan and the core's message (no
    // language model, no tokenizer, ...).
    quint64 check(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                  bonsai::ExportFormat format, bonsai::ExportOptions options,
                  std::function<void(const bonsai::ExportPlan& plan, const QString& error)> done);

    // The quality of a plan's configurations on `data`, on the worker with the runner's
    // progress; cancel() stops it (as cancelled()). `done` runs on this object's thread with
    // the prediction, or the hint which data to choose.
    quint64 predict(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                    ExportPredictionData data, std::function<void(const ExportPrediction&)> done);

    // Writes the export; `done` runs on this object's thread with the plan of what was written.
    // Failure and cancellation come as the runner's failed() / cancelled().
    quint64 start(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                  bonsai::ExportFormat format, const QString& path, bonsai::ExportOptions options,
                  std::function<void(const bonsai::ExportPlan&)> done);
    void cancel();

private:
    JobRunner* m_runner;
    std::shared_ptr<ExportPredictor> m_predictor; // used on the worker only (one job at a time)
};

} // namespace bonsai::ui
