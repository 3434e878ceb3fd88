#pragma once
// Inspector group "Precision": format, granularity, group size, symmetric, clip search and,
// for integers, the method (round to nearest, GPTQ, AWQ) with its calibration settings.
#include "configeditor.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QHBoxLayout;
class QSpinBox;

namespace bonsai::ui {

class QuantControls : public ConfigEditor {
    Q_OBJECT
public:
    explicit QuantControls(HelpPane* help, QWidget* parent = nullptr);
    void setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols) override;
    QComboBox* precisionCombo() const { return m_precision; }
    QComboBox* methodCombo() const { return m_method; }
    QCheckBox* actOrderCheck() const { return m_actOrder; }
    QDoubleSpinBox* dampingSpin() const { return m_damping; }
    QSpinBox* calibrationSpin() const { return m_calib; }

private:
    void updateEnabled();

    QComboBox* m_precision;
    QComboBox* m_granularity;
    QSpinBox* m_groupSize;
    QCheckBox* m_symmetric;
    QCheckBox* m_clip;
    QComboBox* m_method;
    QCheckBox* m_actOrder;
    QDoubleSpinBox* m_damping;
    QSpinBox* m_calib;
    QFormLayout* m_form = nullptr;
    QHBoxLayout* m_gptqRow = nullptr; // damping and act-order
};

} // namespace bonsai::ui
