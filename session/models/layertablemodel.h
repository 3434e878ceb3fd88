#pragma once
// Table of a model's layers (or of all its tensors): one row each, with formatted text for
// display and raw numbers under SortRole for the proxy. With a CompressionDocument the
// Precision, Sparsity and Rank columns are editable (setData pushes an undo command) and the
// compressed size and bits per weight come from a ModelEstimator.
//
// Language models (bonsai::isLanguageModel) are listed in model order (embeddings, each
// block's attention and MLP projections, output head) with short role names in the Name
// column and their group ("Block 3 · attention") in the Group column.
//
// The Latency column shows each layer's measured time from the last speed measurement
// (setMeasuredLatency), "—" before one; a layer whose configuration changed since is greyed.
#include "bonsai/layer_config.h"

#include <QAbstractTableModel>

#include <functional>
#include <memory>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class CompressionDocument;
class ModelEstimator;

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns {
        Name, Group, Op, Shape, DType, Parameters, Bytes, Share,
        Precision, Sparsity, Rank, Compressed, BitsPerWeight, Latency, NUM_COLUMNS
    };
    enum Roles {
        SortRole = Qt::UserRole, // raw value: string, or number for numeric columns
        TensorRole,              // index of the tensor the row shows (the weight for a layer)
        ChannelAxisRole,         // output-channel axis for per-channel statistics, or -1
        ShareRole,               // fraction of the model's bytes in [0, 1]
        LayerRole,               // index of the layer (Model::layers), or -1
        MaxRankRole,             // Rank column: min(rows, cols) of the layer's weight matrix
        FullNameRole,            // the layer's or tensor's full name (Name shows a short one for LLMs)
        GroupKeyRole,            // LLMs: "Embeddings", "Block 3", "Output head"; else empty
        PartRole,                // LLMs: "attention", "mlp" or ""
        LlmRoleRole,             // LLMs: the bonsai::LlmRole as int, or -1
        GroupBandRole,           // LLMs: 0, 1, 2, … per group in model order (shading), or -1
    };
    enum class Mode { Layers, Tensors };

    explicit LayerTableModel(QObject* parent = nullptr);

    void setModel(std::shared_ptr<const bonsai::Model> model);
    void setMode(Mode mode);
    // The compression columns follow `doc` and `estimator` (both may be null).
    void setCompression(CompressionDocument* doc, ModelEstimator* estimator);
    // Layers selected in the view: an edit of a selected row applies to all of them.
    void setSelectedLayers(std::function<QList<int>()> selected) { m_selected = std::move(selected); }
    Mode mode() const { return m_mode; }
    bool isLanguageModel() const { return m_llm; }
    // LLMs: the group keys in model order ("Embeddings", "Block 0", …, "Output head").
    QStringList groupKeys() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    static bool isConfigColumn(int column) { return column >= Precision && column <= Rank; }

    // The measured time of each layer (by Model::layers index, seconds, -1: not timed on its
    // own) of the model compressed as `configs`, and of the original model; `per` says per
    // what ("per batch of 1 image", "per decoded token"). Cleared with the model.
    void setMeasuredLatency(std::vector<double> seconds, std::vector<double> originalSeconds,
                            std::vector<bonsai::LayerConfig> configs, const QString& per);
    bool hasMeasuredLatency() const { return !m_latency.empty(); }

private:
    struct Row {
        QString name, op, shape, dtype;
        uint64_t numel = 0; // weight elements (sorts the Shape column)
        uint64_t params = 0;
        uint64_t bytes = 0;
        double share = 0;
        int tensor = -1;
        int channelAxis = -1;
        int layer = -1;
        // Language models only.
        QString label, group, groupKey, part;
        int llmRole = -1, band = -1;
        int64_t order = 0; // model order (block, role)
    };
    void applyLlmOrder();
    void rebuild();
    QString toolTip(const Row& row) const;
    QVariant compressionData(const Row& row, int column, int role) const;
    QVariant compressionHeader(int section, int role) const;
    QVariant latencyData(const Row& row, int role) const;
    QVariant latencyHeader(int role) const;
    void onConfigChanged(const QList<int>& layers);
    void emitColumnsChanged(int first, int last);

    std::shared_ptr<const bonsai::Model> m_model;
    Mode m_mode = Mode::Layers;
    bool m_llm = false;
    std::vector<Row> m_rows;
    std::vector<int> m_rowOfLayer; // layer -> row (-1 when not shown)
    CompressionDocument* m_doc = nullptr;
    ModelEstimator* m_estimator = nullptr;
    std::function<QList<int>()> m_selected;
    std::vector<double> m_latency, m_originalLatency; // by layer; empty: not measured
    std::vector<bonsai::LayerConfig> m_latencyConfigs;
    QString m_latencyPer;
};

} // namespace bonsai::ui
