#include "tradeoffchart.h"

#include "chartutil.h"
#include "tradeoffmodel.h"

#include <QCategoryAxis>
#include <QChart>
#include <QComboBox>
#include <QCursor>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QScatterSeries>
#include <QLineF>
#include <QPen>
#include <QSignalBlocker>
#include <QStringList>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

TradeoffChart::TradeoffChart(TradeoffModel* model, QWidget* parent) : QChartView(parent), m_model(model)
{
    setObjectName(QStringLiteral("tradeoffChart"));
    setRenderHint(QPainter::Antialiasing);
    connect(m_model, &QAbstractItemModel::rowsInserted, this, &TradeoffChart::rebuild);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        m_reference.reset();
        rebuild();
    });
    connect(m_model, &TradeoffModel::currentRowChanged, this, &TradeoffChart::rebuild);
    connect(m_model, &TradeoffModel::predictedFrontChanged, this, &TradeoffChart::rebuild);
    connect(m_model, &TradeoffModel::latencyChanged, this, [this] {
        if (m_axis == XAxis::Latency)
            rebuild();
    });
    m_toggle = new QComboBox(this);
    m_toggle->setObjectName(QStringLiteral("tradeoffAxis"));
    m_toggle->addItem(tr("vs size"));
    m_toggle->addItem(tr("vs measured latency"));
    m_toggle->setToolTip(tr("What the x axis shows: the compressed model's size, or the latency a speed "
                            "run (Evaluate > Speed…) measured for the configuration on this machine."));
    m_toggle->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(m_toggle, &QComboBox::currentIndexChanged, this,
            [this](int i) { setXAxis(i == 1 ? XAxis::Latency : XAxis::Size); });
    rebuild();
}

void TradeoffChart::setXAxis(XAxis axis)
{
    if (axis == m_axis)
        return;
    m_axis = axis;
    const QSignalBlocker block(m_toggle);
    m_toggle->setCurrentIndex(axis == XAxis::Latency ? 1 : 0);
    rebuild();
}

void TradeoffChart::resizeEvent(QResizeEvent* event)
{
    QChartView::resizeEvent(event);
    placeToggle();
}

void TradeoffChart::placeToggle()
{
    m_toggle->adjustSize();
    m_toggle->move(width() - m_toggle->width() - 4, 2);
    m_toggle->raise();
}

double TradeoffChart::xOf(const TradeoffPoint& p) const
{
    if (m_axis == XAxis::Size)
        return double(p.result.compressedBytes) / m_scale;
    return p.latencySeconds >= 0 ? p.latencySeconds / m_latencyScale : std::nan("");
}

QString TradeoffChart::xTitle() const
{
    if (m_axis == XAxis::Size)
        return tr("compressed model size (%1)").arg(m_unit);
    return m_model->metric() == TradeoffMetric::Perplexity
               ? tr("measured latency per decode step (%1)").arg(m_latencyUnit)
               : tr("measured latency per batch (%1)").arg(m_latencyUnit);
}

int TradeoffChart::drawnPointCount() const
{
    int n = 0;
    for (const auto& p : m_model->points())
        n += !std::isnan(xOf(p));
    return n;
}

namespace {

// Texts drawn beside points, each as a one-point series with a transparent marker and no
// legend entry. Points closer than one line of text (nearY) at about the same size (nearX)
// share one label ("#2 · #5"), so overlapping points stay told apart.
std::vector<QScatterSeries*> addPointLabels(QChart* chart, std::vector<std::pair<QPointF, QString>> points,
                                            double nearX, double nearY)
{
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
        return a.first.x() != b.first.x() ? a.first.x() < b.first.x() : a.first.y() > b.first.y();
    });
    std::vector<std::pair<QPointF, QString>> texts;
    for (auto& [at, label] : points) {
        auto near = std::find_if(texts.begin(), texts.end(), [&](const auto& t) {
            return std::abs(t.first.x() - at.x()) <= nearX && std::abs(t.first.y() - at.y()) < nearY;
        });
        if (near != texts.end())
            near->second += QStringLiteral(" · ") + label;
        else
            texts.emplace_back(at, label);
    }
    std::vector<QScatterSeries*> series;
    for (auto& [at, label] : texts) {
        auto* l = new QScatterSeries;
        l->setMarkerSize(22); // invisible, but it lifts the text above the ring of the current point
        l->setColor(Qt::transparent);
        l->setBorderColor(Qt::transparent);
        l->append(at);
        QString text = label;
        l->setPointLabelsFormat(text.replace(QLatin1Char('@'), QStringLiteral("(at)")));
        l->setPointLabelsVisible(true);
        l->setPointLabelsClipping(false);
        chart->addSeries(l);
        series.push_back(l);
    }
    return series;
}

// A ring around the configuration being edited.
QScatterSeries* currentMark(const QPointF& at)
{
    auto* ring = new QScatterSeries;
    ring->setName(QObject::tr("current configuration"));
    ring->setMarkerSize(20);
    ring->setColor(Qt::transparent);
    ring->setPen(QPen(QColor(0x20, 0x20, 0x20), 2));
    ring->append(at);
    return ring;
}

// The uncompressed model: a dark star, also in the legend.
QScatterSeries* referenceMark(const QString& name, const QPointF& at)
{
    auto* ref = new QScatterSeries;
    ref->setName(name);
    ref->setMarkerShape(QScatterSeries::MarkerShapeStar);
    ref->setMarkerSize(16);
    ref->setColor(QColor(0x30, 0x30, 0x30));
    ref->setBorderColor(QColor(0x30, 0x30, 0x30));
    ref->append(at);
    return ref;
}

// The budget search's predicted front: a dashed line with small open markers (predicted, not
// measured). `percent`: the metric is a fraction shown in percent.
QLineSeries* predictedSeries(const std::vector<PredictedPoint>& front, double scale, bool percent)
{
    auto* line = new QLineSeries;
    line->setName(QObject::tr("predicted front (budget search)"));
    QPen pen(QColor(0x8e, 0x44, 0xad), 1.5, Qt::DashLine);
    line->setPen(pen);
    line->setPointsVisible(true);
    for (const auto& p : front)
        line->append(double(p.compressedBytes) / scale, percent ? 100 * p.metric : p.metric);
    return line;
}

void finishLegend(QChart* chart, const std::vector<QScatterSeries*>& labels)
{
    chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries); // star, square, circle, ring
    for (QScatterSeries* l : labels)
        for (QLegendMarker* m : chart->legend()->markers(l))
            m->setVisible(false);
    wrapLegendBelow(chart); // in rows under the plot: whole entries in a narrow dock
}

} // namespace

QString TradeoffChart::pointLabel(int row) const
{
    // Classifier rows are labelled "#3 int4 group 128 (…)": the number names the point.
    const QString& label = m_model->point(row).label;
    if (m_model->metric() == TradeoffMetric::Top1 && label.startsWith(QLatin1Char('#')))
        return label.section(QLatin1Char(' '), 0, 0);
    return label;
}

QPointF TradeoffChart::valueOf(int row) const
{
    const auto& p = m_model->point(row);
    if (m_model->metric() == TradeoffMetric::Perplexity)
        return {xOf(p), p.perplexity};
    return {xOf(p), 100 * p.result.metrics.top1};
}

int TradeoffChart::rowAt(const QPointF& value) const
{
    int best = -1;
    double bestD = INFINITY;
    for (int r = 0; r < m_model->rowCount(); ++r) {
        const auto& p = m_model->point(r);
        const double x = xOf(p);
        if (std::isnan(x))
            continue;
        const bool ppl = m_model->metric() == TradeoffMetric::Perplexity;
        for (double y : {ppl ? p.perplexity : 100 * p.result.metrics.top1, 100 * p.result.metrics.agreement}) {
            if (ppl && y != p.perplexity)
                continue;
            const double d = std::hypot(x - value.x(), y - value.y());
            if (d < bestD) {
                bestD = d;
                best = r;
            }
        }
    }
    return best;
}

QList<int> TradeoffChart::rowsNear(int row) const
{
    // Rows drawn within a marker's width of `row` (same size and accuracy, or nearly).
    QList<int> rows;
    const QPointF at = chart()->mapToPosition(valueOf(row));
    for (int r = 0; r < m_model->rowCount(); ++r)
        if (!std::isnan(valueOf(r).x()) && QLineF(chart()->mapToPosition(valueOf(r)), at).length() <= 8)
            rows << r;
    return rows;
}

QString TradeoffChart::describeRow(int row) const
{
    const auto& p = m_model->point(row);
    const QString current = row == m_model->currentRow() ? tr(" (current)") : QString();
    if (m_model->metric() == TradeoffMetric::Perplexity)
        return tr("%1%2\nperplexity %3 (uncompressed %4), agreement %5%, %6× smaller\n%7")
            .arg(p.label, current)
            .arg(p.perplexity, 0, 'f', 3)
            .arg(p.basePerplexity, 0, 'f', 3)
            .arg(100 * p.result.metrics.agreement, 0, 'f', 2)
            .arg(p.ratio(), 0, 'f', 2)
            .arg(p.details);
    return tr("%1%2\ntop-1 %3%, agreement %4%, %5× smaller\n%6")
        .arg(p.label, current)
        .arg(100 * p.result.metrics.top1, 0, 'f', 2)
        .arg(100 * p.result.metrics.agreement, 0, 'f', 2)
        .arg(p.ratio(), 0, 'f', 2)
        .arg(p.details);
}

QString TradeoffChart::tipAt(const QPointF& value) const
{
    const int row = rowAt(value);
    if (row < 0)
        return {};
    QStringList parts;
    for (int r : rowsNear(row))
        parts << describeRow(r);
    return parts.join(QStringLiteral("\n\n")) + tr("\nClick to restore this configuration.");
}

void TradeoffChart::showTip(const QPointF& value, bool on)
{
    const QString tip = on ? tipAt(value) : QString();
    if (tip.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(QCursor::pos(), tip, this);
}

void TradeoffChart::setReference(const bonsai::EvalResult& reference)
{
    const bool changed = !m_reference || m_reference->metrics.top1 != reference.metrics.top1;
    m_reference = reference;
    if (changed)
        rebuild();
}

void TradeoffChart::rebuild()
{
    auto* chart = new QChart;
    // Room above the plot for the axis toggle in the top right corner.
    chart->setMargins(QMargins(2, m_toggle ? m_toggle->sizeHint().height() + 2 : 2, 2, 2));
    const bool latency = m_axis == XAxis::Latency;
    const bool ppl = m_model->metric() == TradeoffMetric::Perplexity;
    const auto& points = m_model->points();
    static const std::vector<PredictedPoint> none;
    const auto& predicted = latency ? none : m_model->predictedFront(); // predicts sizes, not latencies
    if (points.empty() && predicted.empty()) {
        chart->setTitle(ppl ? tr("Measure the perplexity of configurations to plot them here.")
                            : tr("Evaluate configurations to plot them here."));
        replaceChart(this, chart);
        placeToggle();
        return;
    }
    uint64_t maxBytes = 0;
    for (const auto& p : points)
        maxBytes = std::max(maxBytes, p.result.originalBytes);
    for (const auto& p : predicted)
        maxBytes = std::max(maxBytes, p.originalBytes);
    m_scale = maxBytes >= (1u << 20) ? double(1 << 20) : maxBytes >= 1024 ? 1024.0 : 1.0;
    m_unit = m_scale > 1024 ? QStringLiteral("MiB") : m_scale > 1 ? QStringLiteral("KiB") : QStringLiteral("B");
    double xMax = double(maxBytes) / m_scale;
    if (latency) {
        double most = m_model->uncompressedLatency();
        for (const auto& p : points)
            most = std::max(most, p.latencySeconds);
        if (most <= 0) {
            chart->setTitle(tr("Measure the speed (F9) of evaluated configurations."));
            replaceChart(this, chart);
            placeToggle();
            return;
        }
        m_latencyScale = most >= 1 ? 1.0 : most >= 1e-3 ? 1e-3 : 1e-6;
        m_latencyUnit = most >= 1 ? QStringLiteral("s") : most >= 1e-3 ? QStringLiteral("ms") : QStringLiteral("µs");
        xMax = most / m_latencyScale;
    }
    const std::vector<int> frontRows = latency ? latencyParetoFront(points, m_model->metric()) : m_model->front();
    const double refLatency = m_model->uncompressedLatency();
    if (ppl) {
        rebuildPerplexity(chart, xMax, frontRows, predicted);
        placeToggle();
        return;
    }

    auto* top1 = new QScatterSeries;
    top1->setName(tr("top-1 accuracy"));
    top1->setMarkerSize(10);
    auto* agree = new QScatterSeries;
    agree->setName(tr("agreement")); // with the uncompressed model's top class (the panel says so)
    agree->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
    agree->setMarkerSize(8);
    double lo = 100;
    for (int r = 0; r < int(points.size()); ++r) {
        const auto& m = points[size_t(r)].result.metrics;
        const double x = xOf(points[size_t(r)]);
        if (std::isnan(x))
            continue;
        top1->append(x, 100 * m.top1);
        agree->append(x, 100 * m.agreement);
        lo = std::min({lo, 100 * m.top1, 100 * m.agreement});
    }
    auto* front = new QLineSeries;
    front->setName(tr("Pareto front (top-1)"));
    for (int r : frontRows)
        front->append(valueOf(r));
    chart->addSeries(front);
    if (!predicted.empty()) {
        chart->addSeries(predictedSeries(predicted, m_scale, true));
        for (const auto& p : predicted)
            lo = std::min(lo, 100 * p.metric);
    }
    const double refX = latency ? (refLatency >= 0 ? refLatency / m_latencyScale : std::nan(""))
                                : m_reference ? double(m_reference->originalBytes) / m_scale : std::nan("");
    if (m_reference && !std::isnan(refX)) {
        chart->addSeries(referenceMark(tr("uncompressed (top-1)"), {refX, 100 * m_reference->metrics.top1}));
        lo = std::min(lo, 100 * m_reference->metrics.top1);
    }
    chart->addSeries(agree);
    chart->addSeries(top1);
    if (m_model->currentRow() >= 0 && !std::isnan(valueOf(m_model->currentRow()).x()))
        chart->addSeries(currentMark(valueOf(m_model->currentRow())));
    auto* x = makeNiceAxis(0, xMax, 5);
    x->setTitleText(xTitle());
    auto* y = makeNiceAxis(std::max(0.0, lo - 5), 100, 5, AxisLabels::Real, false);
    y->setMax(102); // room for the markers at 100%
    y->setTitleText(tr("accuracy (%)"));
    std::vector<std::pair<QPointF, QString>> texts;
    for (int r = 0; r < int(points.size()); ++r)
        if (!std::isnan(valueOf(r).x()))
            texts.emplace_back(valueOf(r), pointLabel(r));
    const std::vector<QScatterSeries*> labels =
        addPointLabels(chart, std::move(texts), 0.02 * (x->max() - x->min()), 0.06 * (y->max() - y->min()));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (QAbstractSeries* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
    for (QScatterSeries* s : {top1, agree}) {
        connect(s, &QScatterSeries::hovered, this, &TradeoffChart::showTip);
        connect(s, &QScatterSeries::clicked, this, [this](const QPointF& v) {
            const int row = rowAt(v);
            if (row >= 0)
                activatePoint(row);
        });
    }
    finishLegend(chart, labels);
    replaceChart(this, chart);
    placeToggle();
}

// Language models: perplexity (lower is better) against size, the front along the lower left.
void TradeoffChart::rebuildPerplexity(QChart* chart, double xMax, const std::vector<int>& frontRows,
                                      const std::vector<PredictedPoint>& predicted)
{
    const auto& points = m_model->points();
    const bool latency = m_axis == XAxis::Latency;
    auto* ppl = new QScatterSeries;
    ppl->setName(tr("perplexity"));
    ppl->setMarkerSize(10);
    double lo = INFINITY, hi = 0;
    const TradeoffPoint* withBase = nullptr;
    for (int r = 0; r < int(points.size()); ++r) {
        const QPointF v = valueOf(r);
        if (std::isnan(v.x()))
            continue;
        ppl->append(v);
        lo = std::min(lo, v.y());
        hi = std::max(hi, v.y());
        if (points[size_t(r)].basePerplexity > 0)
            withBase = &points[size_t(r)];
    }
    auto* front = new QLineSeries;
    front->setName(tr("Pareto front (lower is better)"));
    for (int r : frontRows)
        front->append(valueOf(r));
    chart->addSeries(front);
    if (!predicted.empty()) {
        chart->addSeries(predictedSeries(predicted, m_scale, false));
        for (const auto& p : predicted) {
            lo = std::min(lo, p.metric);
            hi = std::max(hi, p.metric);
        }
    }
    const double refLatency = m_model->uncompressedLatency();
    const double refX = !withBase ? std::nan("")
                        : latency ? (refLatency >= 0 ? refLatency / m_latencyScale : std::nan(""))
                                  : double(withBase->result.originalBytes) / m_scale;
    if (withBase && !std::isnan(refX)) {
        chart->addSeries(referenceMark(tr("uncompressed"), {refX, withBase->basePerplexity}));
        lo = std::min(lo, withBase->basePerplexity);
        hi = std::max(hi, withBase->basePerplexity);
    }
    chart->addSeries(ppl);
    if (m_model->currentRow() >= 0 && !std::isnan(valueOf(m_model->currentRow()).x()))
        chart->addSeries(currentMark(valueOf(m_model->currentRow())));
    if (hi < lo) { // only the uncompressed model drawn, or nothing
        lo = 0;
        hi = 1;
    }
    auto* x = makeNiceAxis(0, xMax, 5);
    x->setTitleText(xTitle());
    const double pad = std::max(0.05 * (hi - lo), 0.02 * hi);
    auto* y = makeNiceAxis(std::max(0.0, lo - pad), hi + pad, 5);
    y->setTitleText(tr("perplexity"));
    // Each point labelled with how it was obtained ("GPTQ int4 g32"); points of one size whose
    // perplexities are too close for two lines of text share one label ("RTN … · AWQ …").
    std::vector<std::pair<QPointF, QString>> texts;
    for (int r = 0; r < int(points.size()); ++r)
        if (!std::isnan(valueOf(r).x()))
            texts.emplace_back(valueOf(r), pointLabel(r));
    const std::vector<QScatterSeries*> labels = addPointLabels(chart, std::move(texts), 0, 0.08 * (y->max() - y->min()));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (QAbstractSeries* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
    connect(ppl, &QScatterSeries::hovered, this, &TradeoffChart::showTip);
    connect(ppl, &QScatterSeries::clicked, this, [this](const QPointF& v) {
        const int row = rowAt(v);
        if (row >= 0)
            activatePoint(row);
    });
    finishLegend(chart, labels);
    replaceChart(this, chart);
}

} // namespace bonsai::ui
