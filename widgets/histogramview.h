#pragma once
// Weight histogram of one tensor as a stepped area, with a linear or logarithmic count axis.
// Shows a hint instead of empty axes until statistics arrive.
#include "statsresult.h"

#include <QWidget>

class QChart;
class QChartView;
class QLabel;
class QRadioButton;
class QStackedWidget;

namespace bonsai::ui {

class HistogramView : public QWidget {
    Q_OBJECT
public:
    explicit HistogramView(QWidget* parent = nullptr);

    void setStats(const StatsResult& result);
    void showMessage(const QString& text); // hides the chart
    bool logScale() const;
    void setLogScale(bool log);
    QChartView* chartView() const { return m_view; }

private:
    void rebuild();

    StatsResult m_result;
    QStackedWidget* m_stack;
    QLabel* m_message;
    QChartView* m_view;
    QRadioButton* m_linear;
    QRadioButton* m_log;
};

} // namespace bonsai::ui
