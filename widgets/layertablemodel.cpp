#include "layertablemodel.h"

#include "formatting.h"

#include "bonsai/model.h"

namespace bonsai::ui {

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setModel(std::shared_ptr<const bonsai::Model> model)
{
    beginResetModel();
    m_model = std::move(model);
    rebuild();
    endResetModel();
}

void LayerTableModel::setMode(Mode mode)
{
    if (mode == m_mode)
        return;
    beginResetModel();
    m_mode = mode;
    rebuild();
    endResetModel();
}

void LayerTableModel::rebuild()
{
    m_rows.clear();
    m_rowOfLayer.clear();
    if (!m_model)
        return;
    m_rowOfLayer.assign(m_model->layers.size(), -1);
    const auto& tensors = m_model->tensors;
    const double total = static_cast<double>(std::max<uint64_t>(m_model->totalBytes(), 1));
    auto fill = [&](Row& r, int tensor) {
        const auto& t = tensors[static_cast<size_t>(tensor)];
        r.tensor = tensor;
        r.shape = formatShape(t.shape);
        r.dtype = qstr(dtypeName(t.dtype));
        r.numel = t.numel;
        r.params += t.numel;
        r.bytes += t.nbytes;
    };
    if (m_mode == Mode::Layers) {
        m_rows.reserve(m_model->layers.size());
        for (size_t li = 0; li < m_model->layers.size(); ++li) {
            const auto& l = m_model->layers[li];
            if (l.weight < 0 || static_cast<size_t>(l.weight) >= tensors.size())
                continue;
            Row r;
            r.layer = static_cast<int>(li);
            m_rowOfLayer[li] = static_cast<int>(m_rows.size());
            r.name = qstr(l.name);
            r.op = qstr(l.op);
            fill(r, l.weight);
            r.channelAxis = l.outAxis;
            if (l.bias >= 0 && static_cast<size_t>(l.bias) < tensors.size()) {
                r.params += tensors[static_cast<size_t>(l.bias)].numel;
                r.bytes += tensors[static_cast<size_t>(l.bias)].nbytes;
            }
            r.share = static_cast<double>(r.bytes) / total;
            m_rows.push_back(std::move(r));
        }
        return;
    }
    // All tensors: the op column names the layer role when a tensor belongs to a layer.
    std::vector<QString> ops(tensors.size());
    std::vector<int> axes(tensors.size(), -1);
    std::vector<int> layerOf(tensors.size(), -1);
    for (size_t li = 0; li < m_model->layers.size(); ++li) {
        const auto& l = m_model->layers[li];
        if (l.weight >= 0 && static_cast<size_t>(l.weight) < tensors.size()) {
            ops[static_cast<size_t>(l.weight)] = qstr(l.op);
            layerOf[static_cast<size_t>(l.weight)] = static_cast<int>(li);
            m_rowOfLayer[li] = l.weight;
            axes[static_cast<size_t>(l.weight)] = l.outAxis;
        }
        if (l.bias >= 0 && static_cast<size_t>(l.bias) < tensors.size())
            ops[static_cast<size_t>(l.bias)] = qstr(l.op) + tr(" bias");
    }
    m_rows.reserve(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        Row r;
        r.name = qstr(tensors[i].name);
        r.op = ops[i];
        fill(r, static_cast<int>(i));
        r.channelAxis = axes[i] >= 0 ? axes[i] : (tensors[i].shape.size() >= 2 ? 0 : -1);
        r.layer = layerOf[i];
        r.share = static_cast<double>(r.bytes) / total;
        m_rows.push_back(std::move(r));
    }
}

int LayerTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : NUM_COLUMNS;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& r = m_rows[static_cast<size_t>(index.row())];
    const int col = index.column();
    if (col >= Precision && role != TensorRole && role != ChannelAxisRole && role != LayerRole)
        return compressionData(r, col, role);
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case Name: return r.name;
        case Op: return r.op;
        case Shape: return r.shape;
        case DType: return r.dtype;
        case Parameters: return formatCount(r.params);
        case Bytes: return formatBytes(r.bytes);
        case Share: return formatPercent(r.share);
        }
        break;
    case SortRole:
        switch (col) {
        case Name: return r.name;
        case Op: return r.op;
        case Shape: return QVariant::fromValue<qulonglong>(r.numel);
        case DType: return r.dtype;
        case Parameters: return QVariant::fromValue<qulonglong>(r.params);
        case Bytes: return QVariant::fromValue<qulonglong>(r.bytes);
        case Share: return r.share;
        }
        break;
    case TensorRole: return r.tensor;
    case ChannelAxisRole: return r.channelAxis;
    case ShareRole: return r.share;
    case LayerRole: return r.layer;
    case Qt::ToolTipRole: return toolTip(r);
    case Qt::TextAlignmentRole:
        if (col == Parameters || col == Bytes || col == Share)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
    }
    return {};
}

QString LayerTableModel::toolTip(const Row& r) const
{
    QString tip = QStringLiteral("<b>%1</b>").arg(r.name.toHtmlEscaped());
    if (!r.op.isEmpty())
        tip += tr("<br>Op: %1").arg(r.op.toHtmlEscaped());
    tip += tr("<br>Shape: %1 (%2)").arg(r.shape, r.dtype);
    tip += tr("<br>Parameters: %1").arg(formatCount(r.params));
    tip += tr("<br>Bytes: %1 (%2 of the model)").arg(formatBytes(r.bytes), formatPercent(r.share, 2));
    return tip;
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= NUM_COLUMNS)
        return {};
    if (section >= Precision)
        return compressionHeader(section, role);
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name: return m_mode == Mode::Layers ? tr("Layer") : tr("Tensor");
        case Op: return tr("Op");
        case Shape: return tr("Shape");
        case DType: return tr("DType");
        case Parameters: return tr("Parameters");
        case Bytes: return tr("Bytes");
        case Share: return tr("Share");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case Name: return tr("Layer or tensor name");
        case Op: return tr("Operation that consumes the weight");
        case Shape: return tr("Weight shape, outermost dimension first");
        case DType: return tr("Storage data type");
        case Parameters: return tr("Number of elements (weight plus bias)");
        case Bytes: return tr("Bytes of storage (weight plus bias)");
        case Share: return tr("Share of the model's total tensor bytes");
        }
    }
    return {};
}

} // namespace bonsai::ui
