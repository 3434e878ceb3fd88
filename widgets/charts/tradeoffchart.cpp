#include "tradeoffchart.h"

#include "chartutil.h"
#include "tradeoffmodel.h"

#include <QCategoryAxis>
#include <QChart>
#include <QCursor>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QScatterSeries>

#include <algorithm>
#include <numeric>
#include <QToolTip>

#include <algorithm>
#include <numeric>
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
    rebuild();
}

QPointF TradeoffChart::valueOf(int row) const
{
    const auto& p = m_model->point(row);
    if (m_model->metric() == TradeoffMetric::Perplexity)
        return {double(p.result.compressedBytes) / m_scale, p.perplexity};
    return {double(p.result.compressedBytes) / m_scale, 100 * p.result.metrics.top1};
}

int TradeoffChart::rowAt(const QPointF& value) const
{
    int best = -1;
    double bestD = INFINITY;
    for (int r = 0; r < m_model->rowCount(); ++r) {
        const auto& p = m_model->point(r);
        const double x = double(p.result.compressedBytes) / m_scale;
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

void TradeoffChart::showTip(const QPointF& value, bool on)
{
    const int row = on ? rowAt(value) : -1;
    if (row < 0) {
        QToolTip::hideText();
        return;
    }
    const auto& p = m_model->point(row);
    if (m_model->metric() == TradeoffMetric::Perplexity) {
        QToolTip::showText(QCursor::pos(),
                           tr("%1\nperplexity %2 (uncompressed %3), agreement %4%, %5× smaller\n%6\nClick to restore this configuration.")
                               .arg(p.label)
                               .arg(p.perplexity, 0, 'f', 3)
                               .arg(p.basePerplexity, 0, 'f', 3)
                               .arg(100 * p.result.metrics.agreement, 0, 'f', 2)
                               .arg(p.ratio(), 0, 'f', 2)
                               .arg(p.details),
                           this);
        return;
    }
    QToolTip::showText(QCursor::pos(),
                       tr("%1\ntop-1 %2%, agreement %3%, %4× smaller\n%5\nClick to restore this configuration.")
                           .arg(p.label)
                           .arg(100 * p.result.metrics.top1, 0, 'f', 2)
                           .arg(100 * p.result.metrics.agreement, 0, 'f', 2)
                           .arg(p.ratio(), 0, 'f', 2)
                           .arg(p.details),
                       this);
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
    chart->setMargins(QMargins(2, 2, 2, 2));
    const auto& points = m_model->points();
    if (points.empty()) {
        chart->setTitle(m_model->metric() == TradeoffMetric::Perplexity
                            ? tr("Measure the perplexity of configurations to compare them against size here.")
                            : tr("Evaluate configurations to compare accuracy against size here."));
        replaceChart(this, chart);
        return;
    }
    uint64_t maxBytes = 0;
    for (const auto& p : points)
        maxBytes = std::max(maxBytes, p.result.originalBytes);
    m_scale = maxBytes >= (1u << 20) ? double(1 << 20) : maxBytes >= 1024 ? 1024.0 : 1.0;
    m_unit = m_scale > 1024 ? QStringLiteral("MiB") : m_scale > 1 ? QStringLiteral("KiB") : QStringLiteral("B");
    if (m_model->metric() == TradeoffMetric::Perplexity) {
        rebuildPerplexity(chart, maxBytes);
        return;
    }

    auto* top1 = new QScatterSeries;
    top1->setName(tr("top-1 accuracy"));
    top1->setMarkerSize(10);
    auto* agree = new QScatterSeries;
    agree->setName(tr("agreement with uncompressed"));
    agree->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
    agree->setMarkerSize(8);
    double lo = 100;
    for (int r = 0; r < int(points.size()); ++r) {
        const auto& m = points[size_t(r)].result.metrics;
        const double x = double(points[size_t(r)].result.compressedBytes) / m_scale;
        top1->append(x, 100 * m.top1);
        agree->append(x, 100 * m.agreement);
        lo = std::min({lo, 100 * m.top1, 100 * m.agreement});
    }
    auto* front = new QLineSeries;
    front->setName(tr("Pareto front (top-1)"));
    for (int r : m_model->front())
        front->append(valueOf(r));
    chart->addSeries(front);
    if (m_reference) {
        auto* ref = new QScatterSeries;
        ref->setName(tr("uncompressed (top-1)"));
        ref->setMarkerShape(QScatterSeries::MarkerShapeStar);
        ref->setMarkerSize(14);
        ref->append(double(m_reference->originalBytes) / m_scale, 100 * m_reference->metrics.top1);
        lo = std::min(lo, 100 * m_reference->metrics.top1);
        chart->addSeries(ref);
    }
    chart->addSeries(agree);
    chart->addSeries(top1);
    auto* x = makeNiceAxis(0, double(maxBytes) / m_scale, 5);
    x->setTitleText(tr("compressed model size (%1)").arg(m_unit));
    auto* y = makeNiceAxis(std::max(0.0, lo - 5), 100, 5, AxisLabels::Real, false);
    y->setMax(102); // room for the markers at 100%
    y->setTitleText(tr("accuracy (%)"));
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
    chart->legend()->setAlignment(Qt::AlignBottom);
    replaceChart(this, chart);
}

// Language models: perplexity (lower is better) against size, the front along the lower left.
void TradeoffChart::rebuildPerplexity(QChart* chart, uint64_t maxBytes)
{
    const auto& points = m_model->points();
    auto* ppl = new QScatterSeries;
    ppl->setName(tr("perplexity"));
    ppl->setMarkerSize(10);
    double lo = INFINITY, hi = 0;
    const TradeoffPoint* withBase = nullptr;
    for (int r = 0; r < int(points.size()); ++r) {
        const QPointF v = valueOf(r);
        ppl->append(v);
        lo = std::min(lo, v.y());
        hi = std::max(hi, v.y());
        if (points[size_t(r)].basePerplexity > 0)
            withBase = &points[size_t(r)];
    }
    auto* front = new QLineSeries;
    front->setName(tr("Pareto front (lower is better)"));
    for (int r : m_model->front())
        front->append(valueOf(r));
    chart->addSeries(front);
    if (withBase) {
        auto* ref = new QScatterSeries;
        ref->setName(tr("uncompressed"));
        ref->setMarkerShape(QScatterSeries::MarkerShapeStar);
        ref->setMarkerSize(14);
        ref->append(double(withBase->result.originalBytes) / m_scale, withBase->basePerplexity);
        lo = std::min(lo, withBase->basePerplexity);
        hi = std::max(hi, withBase->basePerplexity);
        chart->addSeries(ref);
    }
    chart->addSeries(ppl);
    auto* x = makeNiceAxis(0, double(maxBytes) / m_scale, 5);
    x->setTitleText(tr("compressed model size (%1)").arg(m_unit));
    const double pad = std::max(0.05 * (hi - lo), 0.02 * hi);
    auto* y = makeNiceAxis(std::max(0.0, lo - pad), hi + pad, 5);
    y->setTitleText(tr("perplexity"));
    // Each point labelled with how it was obtained ("GPTQ int4 g32"). Points of one size whose
    // perplexities are too close for two lines of text share one label ("RTN … · AWQ …").
    std::vector<int> order(points.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        const QPointF pa = valueOf(a), pb = valueOf(b);
        return pa.x() != pb.x() ? pa.x() < pb.x() : pa.y() > pb.y();
    });
    const double near = 0.08 * (y->max() - y->min()); // about one line of text on the axis
    std::vector<std::pair<QPointF, QString>> texts;
    for (int r : order) {
        const QPointF v = valueOf(r);
        if (!texts.empty() && texts.back().first.x() == v.x() && texts.back().first.y() - v.y() < near)
            texts.back().second += QStringLiteral(" · ") + points[size_t(r)].label;
        else
            texts.emplace_back(v, points[size_t(r)].label);
    }
    std::vector<QScatterSeries*> labels;
    for (auto& [at, label] : texts) {
        auto* l = new QScatterSeries;
        l->setMarkerSize(1);
        l->setColor(Qt::transparent);
        l->setBorderColor(Qt::transparent);
        l->append(at);
        QString text = label;
        l->setPointLabelsFormat(text.replace(QLatin1Char('@'), QStringLiteral("(at)")));
        l->setPointLabelsVisible(true);
        l->setPointLabelsClipping(false);
        chart->addSeries(l);
        labels.push_back(l);
    }
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
    chart->legend()->setAlignment(Qt::AlignBottom);
    for (QScatterSeries* l : labels)
        for (QLegendMarker* m : chart->legend()->markers(l))
            m->setVisible(false);
    replaceChart(this, chart);
}

} // namespace bonsai::ui
