#pragma once
// Charts of one evaluation: the running top-1 accuracy with its 95% confidence band while a
// job runs (from the Evaluator's partial results), and the output SQNR of every compressed
// layer, so a user sees where the damage enters.
#include "bonsai/evaluate.h"

#include <QChartView>

class QAreaSeries;
class QLineSeries;

namespace bonsai::ui {

class RunningAccuracyChart : public QChartView {
    Q_OBJECT
public:
    explicit RunningAccuracyChart(QWidget* parent = nullptr);
    void start(qint64 total);                       // a new run of `total` samples
    void addPartial(const bonsai::EvalResult& r);   // running metrics after a batch
    int pointCount() const;

private:
    QLineSeries* m_accuracy = nullptr;
    QLineSeries* m_lower = nullptr;
    QLineSeries* m_upper = nullptr;
    QAreaSeries* m_band = nullptr;
    qint64 m_total = 0;
};

class LayerErrorChart : public QChartView {
    Q_OBJECT
public:
    static constexpr int MaxLayers = 24;
    explicit LayerErrorChart(QWidget* parent = nullptr);
    void setErrors(const std::vector<bonsai::LayerOutputError>& errors, const QString& emptyText);
    int barCount() const { return m_bars; }

private:
    int m_bars = 0;
};

} // namespace bonsai::ui
