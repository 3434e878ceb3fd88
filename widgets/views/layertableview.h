#pragma once
// The layer list: a debounced search box, a layers/all-tensors toggle and the sortable table.
// For language models also a group filter (embeddings, each block, attention or MLP of all
// blocks, output head), rows shaded and separated per block, and a context menu that selects
// every layer of a role across blocks (so that one edit configures all q_proj layers).
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QTimer;
class QTreeView;

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class CompressionDocument;
class LayerFilterProxy;
class ModelEstimator;
class LayerTableModel;

class LayerTableView : public QWidget {
    Q_OBJECT
public:
    explicit LayerTableView(QWidget* parent = nullptr);

    void setModel(std::shared_ptr<const bonsai::Model> model);
    // Makes the compression columns editable and adds multi-row selection.
    void setCompression(CompressionDocument* doc, ModelEstimator* estimator);
    // Layers of the selected rows (the current row first), or empty.
    QList<int> selectedLayers() const;
    int currentLayer() const;
    // Selects the rows of these layers (the first becomes current).
    void selectLayers(const QList<int>& layers);
    // Makes the row with the most bytes current; false when the table is empty.
    bool selectLargest();
    // Language models: selects every layer of a bonsai::LlmRole (all blocks' q_proj, …),
    // showing all groups first when the group filter would hide some; returns how many.
    int selectRole(int llmRole);
    // Language models: shows only one group (a LayerTableModel::groupKeys() entry, or
    // "part:attention" / "part:mlp"); empty shows all. False when the combo has no such entry.
    bool setGroupFilter(const QString& filter);
    QComboBox* groupCombo() const { return m_group; }
    QTreeView* view() const { return m_view; }
    LayerTableModel* tableModel() const { return m_model; }
    LayerFilterProxy* proxy() const { return m_proxy; }

signals:
    // The current row changed: the tensor to analyse, its output-channel axis (or -1) and a
    // display label.
    void currentTensorChanged(int tensor, int channelAxis, const QString& label);
    // The selected layers changed (current row first).
    void layerSelectionChanged(const QList<int>& layers);

private:
    void emitCurrent();
    void updateCountLabel();
    void updateGrouping();
    void showRowMenu(const QPoint& pos);

    LayerTableModel* m_model;
    LayerFilterProxy* m_proxy;
    QTreeView* m_view;
    QLineEdit* m_search;
    QCheckBox* m_allTensors;
    QComboBox* m_group;
    QLabel* m_count;
    QTimer* m_debounce;
};

} // namespace bonsai::ui
