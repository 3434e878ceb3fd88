#pragma once
// Base of the inspector's control groups: shows one configuration and reports edits as
// functions applied to every selected layer's configuration.
#include "bonsai/layer_config.h"

#include <QGroupBox>

#include <functional>

namespace bonsai::ui {

class HelpPane;

using ConfigEdit = std::function<void(bonsai::LayerConfig&)>;

class ConfigEditor : public QGroupBox {
    Q_OBJECT
public:
    using QGroupBox::QGroupBox;
    // Shows `c` without emitting edited(). `rows` x `cols` is the current layer's matrix.
    virtual void setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols) = 0;

signals:
    // mergeKey: CompressionDocument::MergeKey (slider drags merge into one undo step).
    void edited(const bonsai::ui::ConfigEdit& edit, const QString& text, int mergeKey);
    void dragFinished();
};

} // namespace bonsai::ui
