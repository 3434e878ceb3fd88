#pragma once
// Inspector group "Precision": format, granularity, group size, symmetric, clip search.
#include "configeditor.h"

class QCheckBox;
class QComboBox;
class QSpinBox;

namespace bonsai::ui {

class QuantControls : public ConfigEditor {
    Q_OBJECT
public:
    explicit QuantControls(HelpPane* help, QWidget* parent = nullptr);
    void setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols) override;
    QComboBox* precisionCombo() const { return m_precision; }

private:
    void updateEnabled();

    QComboBox* m_precision;
    QComboBox* m_granularity;
    QSpinBox* m_groupSize;
    QCheckBox* m_symmetric;
    QCheckBox* m_clip;
};

} // namespace bonsai::ui
