#pragma once
// The evaluation side of the window without widgets: what to evaluate on (EvalSettings), the
// engine that owns the data set and the Evaluator (with its caches) for one model and one
// setting, and a readable summary of a configuration. The engine is used only by JobRunner
// jobs, one at a time, on the runner's worker thread.
#include "bonsai/evaluate.h"

#include <QString>

#include <memory>
#include <vector>

namespace bonsai {
class Dataset;
class Model;
}

namespace bonsai::ui {

struct EvalSettings {
    QString dataset;               // file or folder (empty: none chosen)
    QString split = QStringLiteral("test");
    qint64 limit = 0;              // first N samples (0: all)
    bool operator==(const EvalSettings&) const = default;
};

// The data set path the panel starts with: Debian's Fashion-MNIST when installed, else empty.
QString defaultEvalDataset();

// Why the model cannot be evaluated at all (empty when it is an ONNX graph that may run).
QString evaluationUnsupportedReason(const bonsai::Model& model);

// What the panel shows once the data set and the model are checked.
struct EvalPrepared {
    QString preprocessing; // Preprocess::describe()
    QString dataset;       // "IDX, 10,000 samples, 10 classes"
    QString format;        // Dataset::format(): "IDX", "npz", "npy", "image folder"
    qint64 samples = 0;    // evaluated per run (after the limit)
};

class EvalEngine {
public:
    EvalEngine(std::shared_ptr<const bonsai::Model> model, EvalSettings settings);
    ~EvalEngine();
    EvalEngine(const EvalEngine&) = delete;
    EvalEngine& operator=(const EvalEngine&) = delete;

    const EvalSettings& settings() const { return m_settings; }
    const std::shared_ptr<const bonsai::Model>& model() const { return m_model; }
    // Opens the data set and checks it against the model (first use only). Throws
    // bonsai::Error with a readable message when either cannot be used.
    EvalPrepared prepare();
    // The uncompressed model's metrics (runs it on first use; cancellable the same way).
    bonsai::EvalResult reference(const bonsai::ProgressFn& progress = {});
    // One configuration per layer; progress answers false to cancel (throws Cancelled).
    bonsai::EvalResult evaluate(const std::vector<bonsai::LayerConfig>& configs,
                                const bonsai::ProgressFn& progress, const bonsai::EvalCallback& partial);

private:
    std::shared_ptr<const bonsai::Model> m_model;
    EvalSettings m_settings;
    std::unique_ptr<bonsai::Dataset> m_data;
    std::unique_ptr<bonsai::Evaluator> m_evaluator;
    EvalPrepared m_prepared;
};

// "uncompressed", "int8 per channel (all 3 layers)", "2× int4 group 128, 1× fp32"...
QString summarizeConfigs(const std::vector<bonsai::LayerConfig>& configs);
// One line per layer that differs from fp32 (for tooltips), at most `maxLines`.
QString describeConfigs(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs,
                        int maxLines = 12);

} // namespace bonsai::ui
