#pragma once
// The inspector for the selected layer(s): precision, sparsity and rank controls whose edits
// go to the CompressionDocument (one undo step each, slider drags merged), the preview of the
// current layer and a help pane that explains each control.
#include <QWidget>

#include <memory>

class QLabel;

namespace bonsai::ui {

class CompressionDocument;
class HelpPane;
class QuantControls;
class RankControls;
class SparsityControls;
class SpectrumRunner;

class ConfigInspector : public QWidget {
    Q_OBJECT
public:
    explicit ConfigInspector(CompressionDocument* doc, QWidget* parent = nullptr);

    // The layers edits apply to; the first is the one shown (and previewed).
    void setLayers(const QList<int>& layers);
    QList<int> layers() const { return m_layers; }

    QuantControls* quant() const { return m_quant; }
    SparsityControls* sparsity() const { return m_sparsity; }
    RankControls* rank() const { return m_rank; }
    HelpPane* help() const { return m_help; }

private:
    void refresh();

    CompressionDocument* m_doc;
    SpectrumRunner* m_spectra;
    QList<int> m_layers;
    QLabel* m_title;
    HelpPane* m_help;
    QuantControls* m_quant;
    SparsityControls* m_sparsity;
    RankControls* m_rank;
};

} // namespace bonsai::ui
