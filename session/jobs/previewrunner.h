#pragma once
// Live preview of one layer: compressLayer() with the chosen configuration, off the GUI
// thread, plus histograms of the original and the reconstructed weights on the same bins.
// Throttled: one job at a time; requests made while it runs coalesce into the newest, which
// starts when it ends. Newest request wins (JobTracker): a result is shown only if no newer
// job started and it is for the layer asked for last.
#include "jobtracker.h"

#include "bonsai/compress.h"

#include <QMetaType>
#include <QObject>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

namespace bonsai::ui {

struct PreviewResult {
    int layer = -1;
    bonsai::LayerResult result;   // as compressLayer() returns it
    QString error;                // the configuration cannot apply to this layer
    double lo = 0, hi = 0;        // histogram range: the original weights' finite min and max
    std::vector<uint64_t> original, compressed; // counts on the same bins
};

class PreviewRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int Bins = 128;

    explicit PreviewRunner(QObject* parent = nullptr);
    ~PreviewRunner() override;

    void setModel(std::shared_ptr<const bonsai::Model> model);
    void request(int layer, const bonsai::LayerConfig& config);
    void clear(); // forget pending requests; running results are dropped
    bool isBusy() const { return m_running || m_pending.has_value(); }

    // The job itself (also used by tests): compressLayer plus both histograms.
    // `rankCache` (optional) keeps low-rank factors between calls for the same layer.
    static PreviewResult compute(const bonsai::Model& model, int layer, const bonsai::LayerConfig& config,
                                 bonsai::RankCache* rankCache = nullptr);

signals:
    void started(int layer);
    void finished(const bonsai::ui::PreviewResult& result);

private:
    struct Request {
        int layer;
        bonsai::LayerConfig config;
    };
    void startNext();

    std::shared_ptr<const bonsai::Model> m_model;
    std::optional<Request> m_pending;
    std::shared_ptr<bonsai::RankCache> m_rankCache = std::make_shared<bonsai::RankCache>();
    JobTracker m_jobs{this};
    int m_wantedLayer = -1;
    bool m_running = false;
};

} // namespace bonsai::ui

Q_DECLARE_METATYPE(bonsai::ui::PreviewResult)
