#pragma once
// The recovery job without widgets (recover.h): a short training run (fine-tuning, QAT,
// distillation or lottery ticket) of the model compressed as configured, on a training data
// set, measured on a test set; both are opened on the worker (a folder gives its train and
// test splits). Newest request wins: start() cancels the running job; the per-epoch reports
// and the result reach the caller only while the job is current. Also: a run's label, why a
// model cannot be trained, saving the recovered model, and a finished run as a trade-off
// point of the accuracy-against-size chart.
#include "bonsai/recover.h"

#include "tradeoffmodel.h"

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

struct RecoveryRequest {
    std::shared_ptr<const bonsai::Model> model;
    std::vector<bonsai::LayerConfig> configs;
    bonsai::RecoverOptions options; // onEpoch is set by the runner
    QString train;                  // file or folder (its train split)
    QString test;                   // file or folder (its test split)
};

class RecoveryRunner : public QObject {
    Q_OBJECT
public:
    using Epoch = std::function<void(const bonsai::RecoverEpoch&)>;
    using Done = std::function<void(const std::shared_ptr<bonsai::RecoverResult>&)>;

    explicit RecoveryRunner(QObject* parent = nullptr);
    ~RecoveryRunner() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }
    // Starts a run (the previous one is cancelled); `epoch` (live, one call per epoch) and
    // `done` run on this object's thread while `receiver` exists. Returns the job id.
    quint64 start(const RecoveryRequest& request, QObject* receiver, Epoch epoch, Done done);

    // "QAT 1 epoch", "Lottery ticket 3 rounds × 1 epoch, 80% sparse".
    static QString describeRun(const bonsai::RecoverOptions& options);
    // Why `model` cannot be trained (empty: it may be, or none is open).
    static QString unsupportedReason(const bonsai::Model* model);
    // Writes the recovered ONNX model; false and *error (naming the file) when it cannot.
    static bool save(const bonsai::Model& model, const bonsai::RecoverResult& result, const QString& path,
                     QString* error = nullptr);
    // A finished run as its own point of the accuracy chart. A lottery ticket replaces the
    // recipe's sparsity by each layer's own mask; other runs keep `estimatedBytes`. A point
    // already in `known` with the same configuration gives its (evaluated) size.
    static TradeoffPoint tradeoffPoint(const bonsai::Model& model, const QString& label,
                                       std::vector<bonsai::LayerConfig> configs,
                                       const bonsai::RecoverResult& result, uint64_t estimatedBytes,
                                       const std::vector<TradeoffPoint>& known);

private:
    JobRunner* m_runner;
};

} // namespace bonsai::ui
