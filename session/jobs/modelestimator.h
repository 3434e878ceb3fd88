#pragma once
// Compressed sizes of the whole model for the document's configuration, recomputed in the
// background ~300 ms after the configuration last changed. Layers whose configuration did not
// change keep their cached result; global-scope sparsity needs the whole model
// (compressModel). Newest request wins (JobTracker): a new configuration cancels the running
// job between layers and stale results are dropped. Results are remembered per layer and
// configuration (the last MemoPerLayer of each layer, also those of a cancelled job): a layer
// that gets a configuration it had before shows its result at once, without the debounce, so
// a budget slider moved back and forth re-sizes only what it never had.
#include "jobtracker.h"

#include "bonsai/compress.h"

#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>
#include <optional>
#include <vector>

namespace bonsai::ui {

class CompressionDocument;

class ModelEstimator : public QObject {
    Q_OBJECT
public:
    static constexpr int DebounceMs = 300;
    static constexpr size_t MemoPerLayer = 16;

    explicit ModelEstimator(CompressionDocument* doc, QObject* parent = nullptr);
    ~ModelEstimator() override;

    // The layer's result if it is for the layer's current configuration, else nullptr.
    const bonsai::LayerResult* result(int layer) const;
    QString error(int layer) const;
    // Model totals; only when every layer's result is current.
    bool isComplete() const { return m_complete; }
    uint64_t originalBytes() const;
    uint64_t compressedBytes() const;
    bool isBusy() const { return m_jobs.isBusy() || m_debounce.isActive(); }
    void startNow(); // skip the debounce (tests, screenshots)

signals:
    void started();
    void progress(double fraction);
    void resultsChanged(); // some layers' results arrived (the totals may be complete)

private:
    struct Outcome {
        JobTracker::Id id = 0;
        std::vector<std::optional<bonsai::LayerResult>> results;
        std::vector<QString> errors;
        bool cancelled = false;
        bool global = false; // global sparsity: results depend on every layer (not remembered)
    };
    void schedule();
    void onDone(const Outcome& o);
    bool isCurrent(int layer) const;
    void remember(const bonsai::LayerResult& r, size_t layer);
    // Current results from the memo; true when every layer's is current. `found`: some were.
    bool recall(bool& found);

    CompressionDocument* m_doc;
    std::vector<std::optional<bonsai::LayerResult>> m_results;
    std::vector<QString> m_errors;
    std::vector<std::vector<bonsai::LayerResult>> m_memo; // per layer, most recent first
    QTimer m_debounce;
    JobTracker m_jobs{this};
    bool m_complete = false;
};

} // namespace bonsai::ui
