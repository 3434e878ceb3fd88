#pragma once
// Table of a model's layers (or of all its tensors): one row each, with formatted text for
// display and raw numbers under SortRole for the proxy.
#include <QAbstractTableModel>

#include <memory>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns { Name, Op, Shape, DType, Parameters, Bytes, Share, NUM_COLUMNS };
    enum Roles {
        SortRole = Qt::UserRole, // raw value: string, or number for numeric columns
        TensorRole,              // index of the tensor the row shows (the weight for a layer)
        ChannelAxisRole,         // output-channel axis for per-channel statistics, or -1
        ShareRole,               // fraction of the model's bytes in [0, 1]
    };
    enum class Mode { Layers, Tensors };

    explicit LayerTableModel(QObject* parent = nullptr);

    void setModel(std::shared_ptr<const bonsai::Model> model);
    void setMode(Mode mode);
    Mode mode() const { return m_mode; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    struct Row {
        QString name, op, shape, dtype;
        uint64_t numel = 0; // weight elements (sorts the Shape column)
        uint64_t params = 0;
        uint64_t bytes = 0;
        double share = 0;
        int tensor = -1;
        int channelAxis = -1;
    };
    void rebuild();
    QString toolTip(const Row& row) const;

    std::shared_ptr<const bonsai::Model> m_model;
    Mode m_mode = Mode::Layers;
    std::vector<Row> m_rows;
};

} // namespace bonsai::ui
