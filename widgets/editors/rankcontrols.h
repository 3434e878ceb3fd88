#pragma once
// Inspector group "Low rank": off / a rank / a retained-energy fraction, with a slider over
// the singular-value energy curve and what the chosen rank stores.
#include "configeditor.h"

#include "bonsai/lowrank.h"

#include <memory>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QSpinBox;

namespace bonsai::ui {

class EnergyChart;

class RankControls : public ConfigEditor {
    Q_OBJECT
public:
    explicit RankControls(HelpPane* help, QWidget* parent = nullptr);
    void setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols) override;
    void setSpectrum(std::shared_ptr<const bonsai::Spectrum> spectrum);
    void showChartMessage(const QString& text);
    QSlider* slider() const { return m_slider; }
    EnergyChart* chart() const { return m_chart; }

private:
    enum Mode { Off, ByRank, ByEnergy };
    void emitRank(int rank);
    void updateInfo();
    int startRank() const; // where "rank r" starts when chosen

    QComboBox* m_mode;
    QSlider* m_slider;
    QSpinBox* m_rank;
    QDoubleSpinBox* m_energy;
    QLabel* m_info;
    QLabel* m_legend;
    EnergyChart* m_chart;
    uint64_t m_rows = 0, m_cols = 0;
    int m_configRank = 0; // the shown configuration's rank (0: not rank r)
};

} // namespace bonsai::ui
