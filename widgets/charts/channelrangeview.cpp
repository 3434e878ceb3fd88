#include "channelrangeview.h"

#include "chartutil.h"
#include "decimate.h"
#include "formatting.h"

#include <QChart>
#include <QChartView>
#include <QLabel>
#include <QLegend>
#include <QLineSeries>
#include <QStackedWidget>
#include <QCategoryAxis>
#include <QVBoxLayout>

#include <algorithm>

namespace bonsai::ui {

ChannelRangeView::ChannelRangeView(QWidget* parent)
    : QWidget(parent), m_stack(new QStackedWidget(this)), m_message(new QLabel(this)),
      m_view(new QChartView(this))
{
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setEnabled(false);
    m_view->setObjectName(QStringLiteral("channelRangeView"));
    m_view->setRenderHint(QPainter::Antialiasing);
    m_view->setChart(new QChart);
    // Tall enough that the plot fits the vertical axis title and the tick labels stay whole.
    m_view->setMinimumHeight(fontMetrics().lineSpacing() * 16);
    m_stack->addWidget(m_message);
    m_stack->addWidget(m_view);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    showMessage(tr("Per-channel ranges appear here for the selected layer."));
}

void ChannelRangeView::showMessage(const QString& text)
{
    m_message->setText(text);
    m_stack->setCurrentWidget(m_message);
}

void ChannelRangeView::setStats(const StatsResult& result)
{
    if (!result.stats || result.stats->channelMin.empty()) {
        showMessage(tr("No per-channel ranges: %1 has no output-channel axis.").arg(result.label));
        return;
    }
    const auto& s = *result.stats;
    const RangeCurves curves = decimateRanges(s.channelMin, s.channelMax, MaxPoints);
    auto* maxSeries = new QLineSeries;
    auto* minSeries = new QLineSeries;
    maxSeries->setName(tr("max per channel"));
    minSeries->setName(tr("min per channel"));
    maxSeries->replace(curves.max);
    minSeries->replace(curves.min);
    maxSeries->setColor(QColor(0xc0, 0x39, 0x2b));
    minSeries->setColor(QColor(0x29, 0x80, 0xb9));

    auto* chart = new QChart;
    chart->addSeries(maxSeries);
    chart->addSeries(minSeries);
    chart->legend()->setAlignment(Qt::AlignTop);
    chart->setMargins(QMargins(4, 4, 14, 4));
    const int channels = static_cast<int>(s.channelMin.size());
    chart->setTitle(tr("Range per output channel (%1 channels)").arg(formatCount(static_cast<uint64_t>(channels))));

    auto* x = makeNiceAxis(0, std::max(1, channels - 1), 5, AxisLabels::Integer, false);
    x->setTitleText(curves.bucketSize > 1
                        ? tr("output channel (%1 per point, extremes kept)").arg(curves.bucketSize)
                        : tr("output channel"));
    const double pad = std::max(1e-6, (s.max - s.min) * 0.02);
    auto* y = makeNiceAxis(s.min - pad, s.max + pad, 5);
    y->setTitleText(tr("weight value"));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* series : {maxSeries, minSeries}) {
        series->attachAxis(x);
        series->attachAxis(y);
    }
    replaceChart(m_view, chart);
    m_stack->setCurrentWidget(m_view);
}

} // namespace bonsai::ui
