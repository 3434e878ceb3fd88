#pragma once
// The predicted quality of an export, for the pre-export check: the configurations of exactly
// the weights written (ExportPlan::configs) evaluated as the window's docks would, on the data
// chosen there: an ONNX classifier's top-1 accuracy on the Evaluation dock's data set beside
// the uncompressed model's, a language model's perplexity on the Perplexity dock's text.
// Runs on a worker thread (an ExportRunner's); the data set and its uncompressed run are kept
// for the next check of the same model and data.
#include "evalengine.h"

#include "bonsai/layer_config.h"
#include "bonsai/progress.h"

#include <QString>

#include <memory>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

// The data chosen in the window (empty: none chosen).
struct ExportPredictionData {
    EvalSettings eval;      // ONNX classifiers: the Evaluation dock's data set, split and limit
    QString text;           // language models: the perplexity text
    QString calibration;    // and the GPTQ/AWQ calibration text (empty: the text)
    int ctx = 128;          // tokens per chunk
    qint64 maxChunks = 0;   // 0: all
};

struct ExportPrediction {
    enum class Metric { None, Accuracy, Perplexity };
    Metric metric = Metric::None;
    double value = 0;        // top-1 accuracy (fraction) or perplexity
    double uncompressed = 0; // the same of the uncompressed model
    qint64 samples = 0;      // images/samples, or tokens scored
    QString split;           // of an MNIST folder ("test"), else empty
    QString data;            // the file or folder evaluated on
    QString dataKind;        // "IDX", "npz", "npy", "image folder", "text"
    QString hint;            // Metric::None: which data to choose for a prediction
    QString error;           // the prediction failed (the check itself stands)
};

class ExportPredictor {
public:
    // Throws bonsai::Cancelled when `progress` answers false; other errors come as error.
    ExportPrediction predict(const std::shared_ptr<const bonsai::Model>& model,
                             const std::vector<bonsai::LayerConfig>& configs, const ExportPredictionData& data,
                             const bonsai::ProgressFn& progress);

private:
    ExportPrediction accuracy(const std::shared_ptr<const bonsai::Model>& model,
                              const std::vector<bonsai::LayerConfig>& configs, const EvalSettings& settings,
                              const bonsai::ProgressFn& progress);
    std::shared_ptr<EvalEngine> m_engine;
};

} // namespace bonsai::ui
