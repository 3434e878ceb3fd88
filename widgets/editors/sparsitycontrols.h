#pragma once
// Inspector group "Sparsity": pattern, fraction pruned (slider and spin box), scope.
#include "configeditor.h"

class QComboBox;
class QDoubleSpinBox;
class QSlider;

namespace bonsai::ui {

class SparsityControls : public ConfigEditor {
    Q_OBJECT
public:
    explicit SparsityControls(HelpPane* help, QWidget* parent = nullptr);
    void setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols) override;
    QSlider* slider() const { return m_slider; }

private:
    enum PatternItem { None, Unstructured, Nm24, Nm48, Channels };
    void setFraction(double percent);
    void updateEnabled();

    QComboBox* m_pattern;
    QSlider* m_slider;
    QDoubleSpinBox* m_percent;
    QComboBox* m_scope;
};

} // namespace bonsai::ui
