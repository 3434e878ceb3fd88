#include "layertablemodel.h"

#include "formatting.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QStringList>

#include <algorithm>
#include <limits>

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
    m_llm = false;
    m_latency.clear();
    m_originalLatency.clear();
    m_latencyConfigs.clear();
    if (!m_model)
        return;
    m_llm = bonsai::isLanguageModel(*m_model);
    m_rowOfLayer.assign(m_model->layers.size(), -1);
    const auto& tensors = m_model->tensors;
    const double total = static_cast<double>(std::max<uint64_t>(m_model->totalBytes(), 1));
    auto fill = [&](Row& r, int tensor) {
        const auto& t = tensors[static_cast<size_t>(tensor)];
        r.tensor = tensor;
        r.shape = formatShape(t.shape);
        r.dtype = qstr(t.storedType());
        r.numel = t.numel;
        r.params += t.numel;
        r.bytes += t.storedBytes();
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
                r.bytes += tensors[static_cast<size_t>(l.bias)].storedBytes();
            }
            r.share = static_cast<double>(r.bytes) / total;
            m_rows.push_back(std::move(r));
        }
        applyLlmOrder();
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
    applyLlmOrder();
}

// Language models: group and short label per row, rows in model order (safetensors lists
// tensors alphabetically: "layers.10" before "layers.2", "mlp" before "self_attn").
void LayerTableModel::applyLlmOrder()
{
    if (!m_llm)
        return;
    constexpr int64_t perBlock = 64;
    const int64_t tail = std::numeric_limits<int32_t>::max() / 2;
    for (size_t i = 0; i < m_rows.size(); ++i) {
        Row& r = m_rows[i];
        const auto info = bonsai::llmLayerInfo(r.name.toStdString());
        if (!info) {
            r.order = tail * 2 + static_cast<int64_t>(i); // unknown tensors last, in file order
            continue;
        }
        r.llmRole = static_cast<int>(info->role);
        r.label = qstr(info->label);
        r.groupKey = qstr(info->group);
        r.part = qstr(info->part);
        if (info->part == "attention")
            r.group = tr("%1 · attention").arg(r.groupKey);
        else if (info->part == "mlp")
            r.group = tr("%1 · MLP").arg(r.groupKey);
        else
            r.group = r.groupKey;
        const int64_t role = static_cast<int64_t>(info->role);
        if (info->role == bonsai::LlmRole::Embedding)
            r.order = role;
        else if (info->block >= 0)
            r.order = (static_cast<int64_t>(info->block) + 1) * perBlock + role;
        else
            r.order = tail + role;
        if (r.name.endsWith(QLatin1String(".bias")))
            r.order = r.order * 2 + 1; // biases right after their weights (all tensors)
        else
            r.order *= 2;
    }
    std::stable_sort(m_rows.begin(), m_rows.end(), [](const Row& a, const Row& b) { return a.order < b.order; });
    std::fill(m_rowOfLayer.begin(), m_rowOfLayer.end(), -1);
    int band = -1;
    QString lastGroup;
    for (size_t i = 0; i < m_rows.size(); ++i) {
        Row& r = m_rows[i];
        if (r.layer >= 0 && static_cast<size_t>(r.layer) < m_rowOfLayer.size())
            m_rowOfLayer[static_cast<size_t>(r.layer)] = static_cast<int>(i);
        if (r.groupKey.isEmpty())
            continue;
        if (band < 0 || r.groupKey != lastGroup)
            ++band;
        lastGroup = r.groupKey;
        r.band = band;
    }
}

QStringList LayerTableModel::groupKeys() const
{
    QStringList keys;
    for (const Row& r : m_rows)
        if (!r.groupKey.isEmpty() && (keys.isEmpty() || keys.back() != r.groupKey) && !keys.contains(r.groupKey))
            keys << r.groupKey;
    return keys;
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
    switch (role) {
    case FullNameRole: return r.name;
    case GroupKeyRole: return r.groupKey;
    case PartRole: return r.part;
    case LlmRoleRole: return r.llmRole;
    case GroupBandRole: return r.band;
    }
    if (col == Latency && role != TensorRole && role != ChannelAxisRole && role != LayerRole)
        return latencyData(r, role);
    if (col >= Precision && role != TensorRole && role != ChannelAxisRole && role != LayerRole)
        return compressionData(r, col, role);
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case Name: return r.label.isEmpty() ? r.name : r.label;
        case Group: return r.group;
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
        case Name: return r.label.isEmpty() ? r.name : r.label;
        case Group: return QVariant::fromValue<qlonglong>(r.order);
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
    if (!r.group.isEmpty())
        tip += tr("<br>Group: %1").arg(r.group.toHtmlEscaped());
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
    if (section == Latency)
        return latencyHeader(role);
    if (section >= Precision)
        return compressionHeader(section, role);
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name: return m_mode == Mode::Layers ? tr("Layer") : tr("Tensor");
        case Group: return tr("Group");
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
        case Group: return tr("Embeddings, a transformer block's attention or MLP, or the output head");
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
