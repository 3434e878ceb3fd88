#include "chartutil.h"

#include <QChart>
#include <QChartView>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

double niceStep(double span, int ticks)
{
    if (!(span > 0) || ticks < 1)
        return 1;
    const double raw = span / ticks;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (raw <= m * mag)
            return m * mag;
    return 10 * mag;
}

void setIndexAxis(QValueAxis* axis, int last)
{
    last = std::max(last, 1);
    axis->setRange(0, last);
    axis->setLabelFormat(QStringLiteral("%d"));
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    axis->setTickInterval(std::max(1.0, niceStep(last, 5)));
}

void replaceChart(QChartView* view, QChart* chart)
{
    QChart* old = view->chart();
    view->setChart(chart);
    delete old;
}

} // namespace bonsai::ui
