#pragma once
// Weight histogram of one tensor as a stepped area, with a linear or logarithmic count axis.
// Shows a hint instead of empty axes until statistics arrive. An overlay draws the compressed
// (reconstructed) weights as a line on top, so the quantization grid shows as spikes.
#include "statsresult.h"

#include <QWidget>

#include <cstdint>
#include <vector>

class QChart;
class QChartView;
class QLabel;
class QRadioButton;
class QStackedWidget;

namespace bonsai::ui {

struct HistogramOverlay {
    int tensor = -1;              // drawn only over this tensor's histogram
    double lo = 0, hi = 0;        // bin range
    std::vector<uint64_t> counts; // equal-width bins over [lo, hi]
    QString name;                 // legend entry, e.g. "compressed (int4 g128)"
};

class HistogramView : public QWidget {
    Q_OBJECT
public:
    explicit HistogramView(QWidget* parent = nullptr);

    void setStats(const StatsResult& result);
    void showMessage(const QString& text); // hides the chart
    bool logScale() const;
    void setLogScale(bool log);
    void setOverlay(const HistogramOverlay& overlay);
    void clearOverlay();
    bool hasOverlay() const;
    QChartView* chartView() const { return m_view; }

private:
    void rebuild();

    StatsResult m_result;
    HistogramOverlay m_overlay;
    QStackedWidget* m_stack;
    QLabel* m_message;
    QChartView* m_view;
    QRadioButton* m_linear;
    QRadioButton* m_log;
};

} // namespace bonsai::ui
