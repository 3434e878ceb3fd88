#pragma once
// Small helpers for readable chart axes.
#include <QString>

#include <cstdint>
#include <utility>

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

// The IEC unit a byte axis up to `maxBytes` reads best in: {1024.0, "KiB"}, {1.0, "B"}, ...
std::pair<double, QString> byteUnitFor(uint64_t maxBytes);

// Replaces the view's chart and deletes the old one.
void replaceChart(QChartView* view, QChart* chart);

// Keeps the chart's legend under the plot in as many rows as its entries need at the chart's
// width, placed again whenever the chart is resized (Qt's legend attached at the bottom keeps
// one row and elides the entries that do not fit: "Pareto front (to..."). Call once the
// series and their markers are final.
void wrapLegendBelow(QChart* chart);

} // namespace bonsai::ui
