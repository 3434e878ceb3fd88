#pragma once
// Accuracy against compressed size for every configuration evaluated this session: top-1 and
// agreement with the uncompressed model as points, the Pareto front (smaller and more
// accurate) as a line. For language models (TradeoffMetric::Perplexity) perplexity against
// size, the front towards smaller and lower. Each point carries a label ("#3"; points drawn on
// top of each other share one, "#2 · #5"), the configuration being edited is ringed, and the
// uncompressed model is a star. Hovering a point shows every configuration drawn there;
// clicking it asks for that configuration to be restored.
//
// A toggle in the chart's top right corner puts measured latency on the x axis instead of
// size (per batch for classifiers, per decode step for language models): only the
// configurations a speed run measured are drawn then, with their own front, and the
// uncompressed model at its measured latency.
#include "bonsai/evaluate.h"

#include <QChartView>

class QComboBox;

#include <cstdint>
#include <optional>
#include <vector>

namespace bonsai::ui {

class TradeoffModel;
struct PredictedPoint;
struct TradeoffPoint;

class TradeoffChart : public QChartView {
    Q_OBJECT
public:
    enum class XAxis { Size, Latency };

    explicit TradeoffChart(TradeoffModel* model, QWidget* parent = nullptr);

    void setXAxis(XAxis axis); // also what the toggle shows
    XAxis xAxis() const { return m_axis; }
    QComboBox* axisToggle() const { return m_toggle; }
    QString sizeUnit() const { return m_unit; }          // "B", "KiB" or "MiB"
    QString latencyUnit() const { return m_latencyUnit; } // "µs", "ms" or "s"
    int drawnPointCount() const; // rows drawn on the current x axis
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

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void rebuild();
    double xOf(const TradeoffPoint& p) const; // NaN when not drawn on the current axis
    QString xTitle() const;
    void placeToggle();
    void rebuildPerplexity(QChart* chart, double xMax, const std::vector<int>& frontRows,
                           const std::vector<PredictedPoint>& predicted);
    void showTip(const QPointF& value, bool on);
    QList<int> rowsNear(int row) const;
    QString describeRow(int row) const;

    TradeoffModel* m_model;
    QString m_unit = QStringLiteral("MiB");
    double m_scale = 1 << 20;
    XAxis m_axis = XAxis::Size;
    QString m_latencyUnit = QStringLiteral("ms");
    double m_latencyScale = 1e-3; // seconds per latency unit
    QComboBox* m_toggle = nullptr;
    std::optional<bonsai::EvalResult> m_reference;
};

} // namespace bonsai::ui
