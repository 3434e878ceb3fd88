#pragma once
// Small helpers for readable chart axes.
class QChart;
class QChartView;
class QValueAxis;

namespace bonsai::ui {

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals.
double niceStep(double span, int ticks);
// Integer axis over [0, last] with nice, zero-anchored ticks (channel indices).
void setIndexAxis(QValueAxis* axis, int last);
// Replaces the view's chart and deletes the old one.
void replaceChart(QChartView* view, QChart* chart);

} // namespace bonsai::ui
