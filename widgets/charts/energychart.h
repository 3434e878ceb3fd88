#pragma once
// The rank control's chart: cumulative singular-value energy against rank, a marker at the
// chosen rank and the boundary beyond which a rank saves no storage.
#include "bonsai/lowrank.h"

#include <QChartView>

#include <memory>

class QLineSeries;
class QScatterSeries;

namespace bonsai::ui {

class EnergyChart : public QChartView {
    Q_OBJECT
public:
    explicit EnergyChart(QWidget* parent = nullptr);

    void setSpectrum(std::shared_ptr<const bonsai::Spectrum> spectrum);
    void showMessage(const QString& text); // no curve (pending, several layers, failure)
    void setRank(uint64_t rank);           // 0: full rank (no marker)
    // Energy kept by `rank` (fraction), or -1 when the spectrum does not reach it.
    double energyAt(uint64_t rank) const;
    uint64_t rankForEnergy(double energy) const; // 0 when unknown
    QLineSeries* curve() const { return m_curve; }
    QString markerText() const; // "r = 16 keeps 93.1% of the energy"
    uint64_t savingLimit() const; // maxSavingRank of the matrix, 0 without a spectrum

private:
    void rebuild();

    std::shared_ptr<const bonsai::Spectrum> m_spectrum;
    std::vector<double> m_energy; // m_energy[i]: fraction kept by rank i + 1
    QLineSeries* m_curve = nullptr;
    QLineSeries* m_marker = nullptr;
    QScatterSeries* m_dot = nullptr;
    uint64_t m_rank = 0;
};

} // namespace bonsai::ui
