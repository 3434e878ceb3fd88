#include "energychart.h"

#include "chartutil.h"
#include "formatting.h"

#include <QChart>
#include <QLineSeries>
#include <QScatterSeries>
#include <QValueAxis>

#include <algorithm>

namespace bonsai::ui {

EnergyChart::EnergyChart(QWidget* parent) : QChartView(parent)
{
    setObjectName(QStringLiteral("energyChart"));
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(180);
    showMessage(tr("Select one layer to see its singular-value energy."));
}

void EnergyChart::showMessage(const QString& text)
{
    m_spectrum.reset();
    m_energy.clear();
    m_curve = m_marker = nullptr;
    m_dot = nullptr;
    auto* chart = new QChart;
    chart->setTitle(text);
    chart->legend()->hide();
    replaceChart(this, chart);
}

void EnergyChart::setSpectrum(std::shared_ptr<const bonsai::Spectrum> spectrum)
{
    m_spectrum = std::move(spectrum);
    m_energy = bonsai::energyCurve(m_spectrum->values, m_spectrum->totalEnergy);
    rebuild();
}

double EnergyChart::energyAt(uint64_t rank) const
{
    if (rank == 0 || rank > m_energy.size())
        return -1;
    return m_energy[rank - 1];
}

uint64_t EnergyChart::rankForEnergy(double energy) const
{
    if (!m_spectrum)
        return 0;
    return bonsai::rankForEnergy(m_spectrum->values, m_spectrum->totalEnergy, energy, m_spectrum->complete)
        .value_or(0);
}

void EnergyChart::rebuild()
{
    const auto& s = *m_spectrum;
    const uint64_t full = std::min(s.rows, s.cols);
    const uint64_t boundary = bonsai::maxSavingRank(s.rows, s.cols);
    auto* chart = new QChart;
    chart->legend()->hide(); // the colours are explained under the chart
    chart->setMargins(QMargins(0, 0, 6, 0));

    m_curve = new QLineSeries;
    m_curve->setName(s.complete ? tr("energy kept") : tr("energy kept (top %1 values)").arg(s.values.size()));
    QList<QPointF> pts{{0, 0}};
    for (size_t i = 0; i < m_energy.size(); ++i)
        pts.append({static_cast<double>(i + 1), m_energy[i] * 100});
    m_curve->replace(pts);
    m_curve->setPen(QPen(QColor(0x20, 0x9f, 0xdf), 2));
    chart->addSeries(m_curve);

    auto* limit = new QLineSeries;
    limit->setName(tr("saves nothing beyond r = %1").arg(formatCount(boundary)));
    limit->append({{static_cast<double>(boundary), 0}, {static_cast<double>(boundary), 100}});
    QPen dashed(Qt::gray);
    dashed.setStyle(Qt::DashLine);
    limit->setPen(dashed);
    chart->addSeries(limit);

    m_marker = new QLineSeries;
    m_marker->setName(tr("chosen rank"));
    QPen red(QColor(0xd9, 0x48, 0x1c));
    red.setWidthF(1.5);
    m_marker->setPen(red);
    chart->addSeries(m_marker);

    auto* x = new QValueAxis;
    x->setRange(0, static_cast<double>(std::max<uint64_t>(full, 1)));
    x->setTickType(QValueAxis::TicksDynamic);
    x->setTickAnchor(0);
    x->setTickInterval(niceStep(static_cast<double>(std::max<uint64_t>(full, 1)), 4));
    x->setLabelFormat(QStringLiteral("%.0f"));
    x->setTitleText(tr("rank r (of %1)").arg(formatCount(full)));
    auto* y = new QValueAxis;
    y->setRange(0, 100);
    y->setTickCount(3);
    y->setLabelFormat(QStringLiteral("%.0f%%"));
    QFont small = x->labelsFont();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    for (QValueAxis* a : {x, y}) {
        a->setLabelsFont(small);
        a->setTitleFont(small);
    }
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* series : {m_curve, limit, m_marker}) {
        series->attachAxis(x);
        series->attachAxis(y);
    }
    replaceChart(this, chart);
    setRank(m_rank);
}

QString EnergyChart::markerText() const { return m_marker ? m_marker->name() : QString(); }

uint64_t EnergyChart::savingLimit() const
{
    return m_spectrum ? bonsai::maxSavingRank(m_spectrum->rows, m_spectrum->cols) : 0;
}

void EnergyChart::setRank(uint64_t rank)
{
    m_rank = rank;
    if (!m_marker)
        return;
    if (rank == 0) {
        m_marker->clear();
        return;
    }
    const double e = energyAt(rank);
    m_marker->replace({{static_cast<double>(rank), 0}, {static_cast<double>(rank), 100}});
    m_marker->setName(e >= 0 ? tr("r = %1 keeps %2 of the energy").arg(formatCount(rank), formatPercent(e, 1))
                             : tr("r = %1").arg(formatCount(rank)));
}

} // namespace bonsai::ui
