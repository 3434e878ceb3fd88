#include "chartutil.h"

#include "formatting.h"

#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QGraphicsLayout>
#include <QLegend>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

std::pair<double, QString> byteUnitFor(uint64_t maxBytes)
{
    if (maxBytes >= (1ull << 30))
        return {double(1ull << 30), QStringLiteral("GiB")};
    if (maxBytes >= (1ull << 20))
        return {double(1ull << 20), QStringLiteral("MiB")};
    if (maxBytes >= (1ull << 10))
        return {1024.0, QStringLiteral("KiB")};
    return {1.0, QStringLiteral("B")};
}

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

QCategoryAxis* makeNiceAxis(double lo, double hi, int ticks, AxisLabels labels, bool widen)
{
    if (!(hi > lo))
        hi = lo + 1;
    double step = niceStep(hi - lo, ticks);
    if (labels == AxisLabels::Integer)
        step = std::max(step, 1.0);
    const double first = widen ? std::floor(lo / step) : std::ceil(lo / step);
    const double last = widen ? std::ceil(hi / step) : std::floor(hi / step);
    auto* axis = new QCategoryAxis;
    axis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    axis->setRange(widen ? first * step : lo, widen ? last * step : hi);
    for (double k = first; k <= last; k += 1) {
        double v = k * step;
        if (std::abs(v) < step * 1e-9)
            v = 0;
        const QString text = labels == AxisLabels::Integer
                                 ? formatCount(static_cast<uint64_t>(std::llround(std::abs(v))))
                                 : QString::number(v, 'g', 4);
        axis->append(v < 0 && labels == AxisLabels::Integer ? QLatin1Char('-') + text : text, v);
    }
    axis->setStartValue(widen ? first * step : lo);
    return axis;
}

void replaceChart(QChartView* view, QChart* chart)
{
    QChart* old = view->chart();
    view->setChart(chart);
    delete old;
}

namespace {

// Lowest edge of the legend's visible items (its entries), in the legend's coordinates.
qreal contentBottom(const QLegend* legend, const QGraphicsItem* item)
{
    qreal bottom = 0;
    for (const QGraphicsItem* c : item->childItems())
        if (c->isVisible())
            bottom = std::max({bottom, legend->mapRectFromItem(c, c->boundingRect()).bottom(), contentBottom(legend, c)});
    return bottom;
}

} // namespace

void wrapLegendBelow(QChart* chart)
{
    QLegend* legend = chart->legend();
    legend->detachFromChart(); // a detached legend lays its entries out in rows
    legend->setAlignment(Qt::AlignTop); // rows from the top of its rectangle down
    legend->setBackgroundVisible(false);
    const QMargins base = chart->margins();
    const auto place = [chart, legend, base] {
        const QRectF r = chart->rect();
        if (!legend->isVisible() || r.width() < 40) {
            chart->setMargins(base);
            return;
        }
        const qreal side = 8, gap = 4;
        // Laid out in the whole chart first to see how many rows the entries take.
        legend->setGeometry(QRectF(r.left() + side, r.top(), r.width() - 2 * side, r.height()));
        if (legend->layout())
            legend->layout()->activate();
        qreal h = std::ceil(contentBottom(legend, legend));
        legend->setGeometry(QRectF(r.left() + side, r.bottom() - h - gap, r.width() - 2 * side, h));
        h = std::max(h, legend->geometry().height()); // not below the legend's minimum height
        legend->setGeometry(QRectF(r.left() + side, r.bottom() - h - gap, r.width() - 2 * side, h));
        if (legend->layout())
            legend->layout()->activate();
        chart->setMargins(QMargins(base.left(), base.top(), base.right(), base.bottom() + int(h + gap)));
    };
    QObject::connect(chart, &QGraphicsWidget::geometryChanged, legend, place);
    place();
}

} // namespace bonsai::ui
