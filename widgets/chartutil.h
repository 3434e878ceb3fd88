#pragma once
// Small helpers for readable chart axes.
class QCategoryAxis;
class QChart;
class QChartView;

namespace bonsai::ui {

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals.
double niceStep(double span, int ticks);

enum class AxisLabels { Real, Integer };
// A value axis over [lo, hi] widened to whole nice steps, labelled at exact multiples of the
// step (so zero reads "0", not "-1.4e-17"); Integer labels get thousands separators.
// With widen false the range stays [lo, hi] and only ticks inside it are labelled.
QCategoryAxis* makeNiceAxis(double lo, double hi, int ticks, AxisLabels labels = AxisLabels::Real,
                            bool widen = true);

// Replaces the view's chart and deletes the old one.
void replaceChart(QChartView* view, QChart* chart);

} // namespace bonsai::ui
