#pragma once
// Per-output-channel minimum and maximum of a weight as two curves against the channel
// index, so channels with outliers stand out. Large channel counts are decimated.
#include "statsresult.h"

#include <QWidget>

class QChartView;
class QLabel;
class QStackedWidget;

namespace bonsai::ui {

class ChannelRangeView : public QWidget {
    Q_OBJECT
public:
    static constexpr int MaxPoints = 2048;

    explicit ChannelRangeView(QWidget* parent = nullptr);
    void setStats(const StatsResult& result);
    void showMessage(const QString& text);
    QChartView* chartView() const { return m_view; }

private:
    QStackedWidget* m_stack;
    QLabel* m_message;
    QChartView* m_view;
};

} // namespace bonsai::ui
