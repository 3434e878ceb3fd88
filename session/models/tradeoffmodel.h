#pragma once
// The trade-off table: one row per configuration evaluated this session (label, compressed
// size, ratio, top-1 with its 95% CI, agreement, KL, seconds), the configurations themselves
// (so a row can be restored), the Pareto front and CSV export. Qt Core only.
#include "bonsai/evaluate.h"

#include <QAbstractTableModel>
#include <QString>

#include <vector>

namespace bonsai::ui {

// What the y axis and the Pareto front measure: classifiers' top-1 accuracy (higher is better)
// or language models' perplexity (lower is better).
enum class TradeoffMetric { Top1, Perplexity };

struct TradeoffPoint {
    QString label;   // "#3 int4 group 128 (all 4 layers)"
    QString details; // one line per compressed layer (tooltips)
    std::vector<bonsai::LayerConfig> configs;
    bonsai::EvalResult result;
    // Language models (TradeoffMetric::Perplexity): the compressed and uncompressed model's
    // perplexity; result.metrics holds the top-1 agreement and the KL divergence.
    double perplexity = 0;
    double basePerplexity = 0;
    // Measured on this machine by a speed run of exactly these configs (TradeoffModel::
    // setMeasuredLatency): per batch (classifiers) or per decode step; -1 while not measured.
    double latencySeconds = -1;

    double sizeMiB() const { return double(result.compressedBytes) / double(1 << 20); }
    double ratio() const
    {
        return result.compressedBytes ? double(result.originalBytes) / double(result.compressedBytes) : 0;
    }
};

// A point of a front the budget search predicts (not measured): the whole model's size and
// the metric predicted for it (top-1 accuracy as a fraction, or perplexity).
struct PredictedPoint {
    uint64_t compressedBytes = 0, originalBytes = 0;
    double metric = 0;
    double bitsPerWeight = 0; // over the searched layers
    double predictedKl = 0;   // nats
};

// Indices of the non-dominated points, by increasing size: a point is dominated when another
// is no larger and no less accurate (top-1; perplexity: no higher), and strictly better in one
// of the two.
std::vector<int> paretoFront(const std::vector<TradeoffPoint>& points,
                             TradeoffMetric metric = TradeoffMetric::Top1);
// The same front against measured latency instead of size, over the points that have one.
std::vector<int> latencyParetoFront(const std::vector<TradeoffPoint>& points, TradeoffMetric metric);

class TradeoffModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns { LabelColumn, SizeColumn, RatioColumn, Top1Column, CiColumn, AgreementColumn,
                   KlColumn, SecondsColumn, NUM_COLUMNS };
    enum Roles { SortRole = Qt::UserRole, ParetoRole };

    explicit TradeoffModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    // Changing the metric clears the table (the values are not comparable).
    void setMetric(TradeoffMetric metric);
    TradeoffMetric metric() const { return m_metric; }
    int add(TradeoffPoint point); // returns its row
    void clear();
    const std::vector<TradeoffPoint>& points() const { return m_points; }
    const TradeoffPoint& point(int row) const { return m_points.at(size_t(row)); }
    const std::vector<int>& front() const { return m_front; }
    // The budget search's predicted front, drawn beside the measured points (kept until the
    // metric changes or another front comes; clear() keeps it).
    void setPredictedFront(std::vector<PredictedPoint> front);
    const std::vector<PredictedPoint>& predictedFront() const { return m_predicted; }
    // The configuration being edited: the row evaluated with exactly it is the current row
    // (drawn ringed, its table row bold); -1 when it has not been evaluated.
    void setCurrentConfigs(const std::vector<bonsai::LayerConfig>& configs);
    int currentRow() const { return m_current; }

    // A speed run's latency of `configs` (seconds; every layer unchanged: the uncompressed
    // model): the rows evaluated with exactly them get it, and so do such rows added later.
    // Kept until clearMeasuredLatency() (a new model), not by clear() (other data).
    void setMeasuredLatency(const std::vector<bonsai::LayerConfig>& configs, double seconds);
    // The uncompressed model's measured latency; -1 when not measured.
    double uncompressedLatency() const;
    void clearMeasuredLatency();

    // label, compressed_bytes, ratio, top1, top1_ci_lo, top1_ci_hi, agreement, kl_nats,
    // seconds; a header line, then one line per row.
    QString toCsv() const;
    // Written through QSaveFile (all or nothing). On failure returns false and sets *error.
    bool saveCsv(const QString& path, QString* error = nullptr) const;

signals:
    void currentRowChanged(int row);
    void predictedFrontChanged();
    void latencyChanged(); // a row's or the uncompressed model's measured latency

private:
    void updateCurrent();
    double latencyOf(const std::vector<bonsai::LayerConfig>& configs) const;

    std::vector<TradeoffPoint> m_points;
    std::vector<int> m_front;
    std::vector<PredictedPoint> m_predicted;
    TradeoffMetric m_metric = TradeoffMetric::Top1;
    std::vector<bonsai::LayerConfig> m_currentConfigs;
    int m_current = -1;
    std::vector<std::pair<std::vector<bonsai::LayerConfig>, double>> m_latencies; // newest last
};

} // namespace bonsai::ui
