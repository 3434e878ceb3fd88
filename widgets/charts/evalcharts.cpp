#include "evalcharts.h"

#include "chartutil.h"
#include "formatting.h"

#include <QAreaSeries>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QHorizontalBarSeries>
#include <QLegend>
#include <QLineSeries>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

RunningAccuracyChart::RunningAccuracyChart(QWidget* parent) : QChartView(parent)
{
    setObjectName(QStringLiteral("runningChart"));
    setRenderHint(QPainter::Antialiasing);
    start(0);
}

int RunningAccuracyChart::pointCount() const { return m_accuracy ? int(m_accuracy->count()) : 0; }

void RunningAccuracyChart::start(qint64 total)
{
    m_total = total;
    auto* chart = new QChart;
    chart->setMargins(QMargins(2, 2, 2, 2));
    chart->setTitle(total > 0 ? tr("Running top-1 accuracy while the evaluation proceeds")
                              : tr("The running accuracy of an evaluation appears here while it runs."));
    m_accuracy = new QLineSeries;
    m_accuracy->setName(tr("top-1 so far"));
    m_lower = new QLineSeries(chart);
    m_upper = new QLineSeries(chart);
    m_band = new QAreaSeries(m_upper, m_lower);
    m_band->setName(tr("95% confidence"));
    QColor band = palette().color(QPalette::Highlight);
    band.setAlpha(60);
    m_band->setBrush(band);
    m_band->setPen(Qt::NoPen);
    chart->addSeries(m_band);
    chart->addSeries(m_accuracy);
    auto* x = new QValueAxis;
    x->setRange(0, double(std::max<qint64>(total, 1)));
    x->setLabelFormat(QStringLiteral("%.0f"));
    x->setTitleText(tr("samples evaluated"));
    auto* y = new QValueAxis;
    y->setRange(0, 100);
    y->setTitleText(tr("top-1 (%)"));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (QAbstractSeries* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
    chart->legend()->setVisible(total > 0);
    chart->legend()->setAlignment(Qt::AlignBottom);
    replaceChart(this, chart);
}

void RunningAccuracyChart::addPartial(const bonsai::EvalResult& r)
{
    if (m_total <= 0)
        start(r.total);
    const auto& m = r.metrics;
    const double n = double(r.samples);
    m_accuracy->append(n, 100 * m.top1);
    m_lower->append(n, 100 * m.top1Ci.lo);
    m_upper->append(n, 100 * m.top1Ci.hi);
    // Zoom the accuracy axis onto the band seen so far.
    double lo = 100, hi = 0;
    for (const QPointF& p : m_lower->points())
        lo = std::min(lo, p.y());
    for (const QPointF& p : m_upper->points())
        hi = std::max(hi, p.y());
    const auto axes = chart()->axes(Qt::Vertical);
    if (!axes.isEmpty())
        axes.first()->setRange(std::max(0.0, std::floor(lo / 5) * 5), std::min(100.0, std::ceil(hi / 5) * 5));
}

LayerErrorChart::LayerErrorChart(QWidget* parent) : QChartView(parent)
{
    setObjectName(QStringLiteral("layerErrorChart"));
    setRenderHint(QPainter::Antialiasing);
    setErrors({}, tr("Evaluate a compressed configuration to see each layer's output error here."));
}

void LayerErrorChart::setErrors(const std::vector<bonsai::LayerOutputError>& errors, const QString& emptyText)
{
    auto* chart = new QChart;
    chart->setMargins(QMargins(2, 2, 2, 2));
    m_bars = 0;
    if (errors.empty()) {
        chart->setTitle(emptyText);
        replaceChart(this, chart);
        return;
    }
    // Graph order, top to bottom; an exact output (infinite SQNR) is drawn at the cap.
    const size_t n = std::min<size_t>(errors.size(), MaxLayers);
    double maxFinite = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(errors[i].sqnrDb))
            maxFinite = std::max(maxFinite, errors[i].sqnrDb);
    const double cap = std::max(10.0, maxFinite * 1.1);
    auto* set = new QBarSet(tr("output SQNR (dB, higher is better)"));
    set->setColor(palette().color(QPalette::Highlight));
    QStringList categories;
    bool capped = false;
    for (size_t k = n; k-- > 0;) {
        QString label = elideMiddle(qstr(errors[k].layer), 26);
        while (categories.contains(label))
            label += QLatin1Char(' ');
        categories << label;
        const double db = errors[k].sqnrDb;
        capped = capped || !std::isfinite(db);
        *set << (std::isfinite(db) ? std::max(0.0, db) : cap);
    }
    m_bars = int(n);
    auto* series = new QHorizontalBarSeries;
    series->append(set);
    series->setLabelsVisible(true);
    series->setLabelsFormat(QStringLiteral("@value"));
    series->setLabelsPrecision(3);
    chart->addSeries(series);
    chart->setTitle(errors.size() > n ? tr("Output SQNR of the first %1 of %2 compressed layers").arg(n).arg(errors.size())
                    : capped           ? tr("Output SQNR per compressed layer (bars at the right edge: exact)")
                                       : tr("Output SQNR per compressed layer, earlier layers' error included (first batch)"));
    auto* y = new QBarCategoryAxis;
    y->append(categories);
    auto* x = makeNiceAxis(0, cap, 5);
    x->setTitleText(tr("output SQNR vs the uncompressed model (dB)"));
    chart->addAxis(y, Qt::AlignLeft);
    chart->addAxis(x, Qt::AlignBottom);
    series->attachAxis(y);
    series->attachAxis(x);
    chart->legend()->setVisible(false);
    replaceChart(this, chart);
}

} // namespace bonsai::ui
