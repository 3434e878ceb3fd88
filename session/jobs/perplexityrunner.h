#pragma once
// The perplexity job of a language model, without widgets: the model compressed as
// configured is scored on a text under the llm.h protocol (chunks of the context length,
// each run as BOS + chunk) against the uncompressed model. Reading and tokenizing the texts
// runs on the worker too. The open model's LanguageModel is built by the first run and
// reused by later ones (runs go one after another on the JobRunner's single worker).
// Newest request wins: start() cancels the running job; live chunk reports and the result
// reach the caller only while the job is current. Also: the run's label, the text chosen by
// default, why a model cannot be measured, and a finished run as a trade-off point.
#include "bonsai/layer_config.h"
#include "bonsai/llm.h"

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

struct PerplexityRequest {
    std::shared_ptr<const bonsai::Model> model;
    std::vector<bonsai::LayerConfig> configs;
    bonsai::PerplexityOptions options; // calibrationTokens are filled in on the worker
    QString text;
    QString calibration; // empty: the evaluated text
};

// Chunks scored since the last report, while the run goes on.
struct PerplexityChunks {
    std::vector<double> perplexity; // of each new chunk
    double running = 0;             // over all chunks so far
    int ctx = 0;
    int64_t chunksTotal = 0;
    QString stage; // as the core names it ("calibrating", ...)
};

class PerplexityRunner : public QObject {
    Q_OBJECT
public:
    using Live = std::function<void(const PerplexityChunks&)>;
    using Done = std::function<void(const std::shared_ptr<bonsai::PerplexityResult>&)>;

    explicit PerplexityRunner(QObject* parent = nullptr);
    ~PerplexityRunner() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }
    // A new model: its LanguageModel is built by the next run (the old one is dropped once
    // its job ends).
    void reset();
    // Starts a run (the previous one is cancelled); `live` and `done` run on this object's
    // thread while `receiver` exists. Returns the job id (JobRunner's).
    quint64 start(const PerplexityRequest& request, QObject* receiver, Live live, Done done);

    // eval.txt beside the checkpoint, when there is one.
    static QString defaultText(const bonsai::Model& model);
    // Why `model` (nullptr: none open) cannot be measured; empty when it can.
    static QString unsupportedReason(const bonsai::Model* model);
    // A finished run as a point of the perplexity trade-off chart.
    static TradeoffPoint tradeoffPoint(const bonsai::Model& model, const QString& label,
                                       const std::vector<bonsai::LayerConfig>& configs,
                                       const bonsai::PerplexityResult& result);

private:
    struct Cache;
    JobRunner* m_runner;
    std::shared_ptr<Cache> m_cache;
};

} // namespace bonsai::ui
