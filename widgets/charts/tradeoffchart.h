#pragma once
// Accuracy against compressed size for every configuration evaluated this session: top-1 and
// agreement with the uncompressed model as points, the Pareto front (smaller and more
// accurate) as a line. For language models (TradeoffMetric::Perplexity) perplexity against
// size, the front towards smaller and lower. Each point carries a label ("#3"; points drawn on
// top of each other share one, "#2 · #5"), the configuration being edited is ringed, and the
// uncompressed model is a star. Hovering a point shows every configuration drawn there;
// clicking it asks for that configuration to be restored.
#include "bonsai/evaluate.h"

#include <QChartView>

#include <cstdint>

#include <optional>

namespace bonsai::ui {

class TradeoffModel;

class TradeoffChart : public QChartView {
    Q_OBJECT
public:
    explicit TradeoffChart(TradeoffModel* model, QWidget* parent = nullptr);

    QString sizeUnit() const { return m_unit; }          // "B", "KiB" or "MiB"
    int rowAt(const QPointF& value) const;               // the point shown at a chart value
    QPointF valueOf(int row) const;                      // where a row's top-1 point is drawn
    QString pointLabel(int row) const;                   // the text beside it ("#3")
    // The tooltip at a chart value: every configuration drawn there, then how to restore one.
    QString tipAt(const QPointF& value) const;
    // The uncompressed model, drawn as its own marker (cleared with the table).
    void setReference(const bonsai::EvalResult& reference);
    void activatePoint(int row) { emit restoreRequested(row); } // what a click does

signals:
    void restoreRequested(int row);

private:
    void rebuild();
    void rebuildPerplexity(QChart* chart, uint64_t maxBytes);
    void showTip(const QPointF& value, bool on);
    QList<int> rowsNear(int row) const;
    QString describeRow(int row) const;

    TradeoffModel* m_model;
    QString m_unit = QStringLiteral("MiB");
    double m_scale = 1 << 20;
    std::optional<bonsai::EvalResult> m_reference;
};

} // namespace bonsai::ui
