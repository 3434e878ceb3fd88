#include "histogramview.h"

#include "chartutil.h"
#include "formatting.h"

#include <QAreaSeries>
#include <QButtonGroup>
#include <QChart>
#include <QChartView>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QRadioButton>
#include <QStackedWidget>
#include <QCategoryAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

// Empty bins sit on this floor in log mode (below the first tick at 1).
static constexpr double LogFloor = 0.5;

HistogramView::HistogramView(QWidget* parent)
    : QWidget(parent), m_stack(new QStackedWidget(this)), m_message(new QLabel(this)),
      m_view(new QChartView(this)), m_linear(new QRadioButton(tr("Linear"), this)),
      m_log(new QRadioButton(tr("Log"), this))
{
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setEnabled(false);
    m_view->setObjectName(QStringLiteral("histogramView"));
    m_view->setRenderHint(QPainter::Antialiasing);
    m_view->setChart(new QChart);
    // Title, legend, a readable plot, tick labels and axis title: shorter, QtCharts elides
    // the tick labels and the axis titles to "...".
    m_view->setMinimumHeight(fontMetrics().lineSpacing() * 15);
    m_stack->addWidget(m_message);
    m_stack->addWidget(m_view);

    m_linear->setChecked(true);
    m_linear->setToolTip(tr("Linear count axis"));
    m_log->setToolTip(tr("Logarithmic count axis: makes rare values (tails, outliers) visible"));
    auto* group = new QButtonGroup(this);
    group->addButton(m_linear);
    group->addButton(m_log);
    connect(m_log, &QRadioButton::toggled, this, [this] { rebuild(); });

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Count axis:"), this));
    bar->addWidget(m_linear);
    bar->addWidget(m_log);
    bar->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_stack, 1);
    showMessage(tr("Select a layer to see the distribution of its weights."));
}

bool HistogramView::logScale() const { return m_log->isChecked(); }

void HistogramView::setLogScale(bool log) { (log ? m_log : m_linear)->setChecked(true); }

void HistogramView::showMessage(const QString& text)
{
    m_result = {};
    m_message->setText(text);
    m_stack->setCurrentWidget(m_message);
}

void HistogramView::setStats(const StatsResult& result)
{
    m_result = result;
    rebuild();
}

void HistogramView::setOverlay(const HistogramOverlay& overlay)
{
    m_overlay = overlay;
    rebuild();
}

void HistogramView::clearOverlay()
{
    if (m_overlay.tensor < 0)
        return;
    m_overlay = {};
    rebuild();
}

bool HistogramView::hasOverlay() const
{
    return m_result.stats && m_overlay.tensor == m_result.tensor && !m_overlay.counts.empty();
}

void HistogramView::rebuild()
{
    if (!m_result.stats)
        return;
    const auto& s = *m_result.stats;
    if (s.histogram.empty() || s.count == 0) {
        m_message->setText(tr("%1 has no finite values to plot.").arg(m_result.label));
        m_stack->setCurrentWidget(m_message);
        return;
    }
    const bool log = logScale();
    const double lo = s.min;
    const double hi = s.max > s.min ? s.max : s.min + std::max(1e-6, std::abs(s.min) * 1e-3);
    const double width = (hi - lo) / static_cast<double>(s.histogram.size());
    const double floor = log ? LogFloor : 0.0;

    // Each bin is a flat step: (left, count), (right, count).
    auto* upper = new QLineSeries;
    auto* lower = new QLineSeries;
    uint64_t maxCount = 1;
    QList<QPointF> points;
    points.reserve(static_cast<qsizetype>(s.histogram.size() * 2));
    for (size_t i = 0; i < s.histogram.size(); ++i) {
        const double c = static_cast<double>(s.histogram[i]);
        const double y = log && c <= 0 ? floor : c;
        points.append({lo + width * static_cast<double>(i), y});
        points.append({lo + width * static_cast<double>(i + 1), y});
        maxCount = std::max(maxCount, s.histogram[i]);
    }
    upper->replace(points);
    lower->append({{lo, floor}, {hi, floor}});

    auto* area = new QAreaSeries(upper, lower);
    upper->setParent(area); // QAreaSeries does not own its boundary series
    lower->setParent(area);
    area->setName(tr("weights"));
    QColor fill = palette().color(QPalette::Highlight);
    area->setBorderColor(fill.darker(120));
    fill.setAlpha(160);
    area->setBrush(fill);

    auto* chart = new QChart;
    chart->addSeries(area);
    chart->legend()->hide();
    QLineSeries* overlay = nullptr;
    const uint64_t originalMax = maxCount;
    QString clippedNote;
    if (hasOverlay()) {
        // The compressed weights as a stepped line on the same kind of bins.
        overlay = new QLineSeries;
        overlay->setName(m_overlay.name);
        const auto& oc = m_overlay.counts;
        const double ow = (m_overlay.hi - m_overlay.lo) / static_cast<double>(oc.size());
        QList<QPointF> op;
        op.reserve(static_cast<qsizetype>(oc.size() * 2));
        for (size_t i = 0; i < oc.size(); ++i) {
            const double c = static_cast<double>(oc[i]);
            const double y = log && c <= 0 ? floor : c;
            op.append({m_overlay.lo + ow * static_cast<double>(i), y});
            op.append({m_overlay.lo + ow * static_cast<double>(i + 1), y});
            maxCount = std::max(maxCount, oc[i]);
        }
        overlay->replace(op);
        // A grid concentrates counts in a few bins; in linear mode keep the original readable
        // and let taller spikes run off the top (the legend says so).
        if (!log && maxCount > originalMax * 5 / 2) {
            clippedNote = tr(" (taller peaks cut off)");
            overlay->setName(tr("%1, peaks to %2").arg(m_overlay.name, formatCount(maxCount)));
            maxCount = originalMax * 5 / 2;
        }
        QPen pen(QColor(0xd9, 0x48, 0x1c)); // orange-red: stands out from the highlight fill
        pen.setWidthF(1.4);
        overlay->setPen(pen);
        chart->addSeries(overlay);
        area->setName(tr("original"));
        chart->legend()->setVisible(true);
        chart->legend()->setAlignment(Qt::AlignTop);
    }
    chart->setTitle(tr("Weight histogram — %1 (%2 bins)").arg(elideMiddle(m_result.label, 60)).arg(s.histogram.size()));
    chart->setMargins(QMargins(4, 4, 14, 4));

    auto* x = makeNiceAxis(lo, hi, 6);
    x->setTitleText(tr("weight value") + clippedNote);
    chart->addAxis(x, Qt::AlignBottom);
    area->attachAxis(x);
    if (overlay)
        overlay->attachAxis(x);
    if (log) {
        auto* y = new QLogValueAxis;
        y->setTitleText(tr("count (log)"));
        y->setBase(10);
        y->setLabelFormat(QStringLiteral("%g"));
        y->setRange(LogFloor, std::pow(10.0, std::ceil(std::log10(static_cast<double>(maxCount) * 1.5))));
        chart->addAxis(y, Qt::AlignLeft);
        area->attachAxis(y);
        if (overlay)
            overlay->attachAxis(y);
    } else {
        auto* y = makeNiceAxis(0, static_cast<double>(maxCount) * 1.02, 5, AxisLabels::Integer);
        y->setTitleText(tr("count"));
        chart->addAxis(y, Qt::AlignLeft);
        area->attachAxis(y);
        if (overlay)
            overlay->attachAxis(y);
    }
    replaceChart(m_view, chart);
    m_stack->setCurrentWidget(m_view);
}

} // namespace bonsai::ui
