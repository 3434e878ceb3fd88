// LayerTableModel: the compression columns (configuration, compressed size, bits per weight).
#include "layertablemodel.h"
#include "bonsai/describe.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "formatting.h"
#include "modelestimator.h"

#include "bonsai/model.h"

#include <algorithm>

namespace bonsai::ui {

void LayerTableModel::setCompression(CompressionDocument* doc, ModelEstimator* estimator)
{
    beginResetModel();
    if (m_doc)
        disconnect(m_doc, nullptr, this, nullptr);
    if (m_estimator)
        disconnect(m_estimator, nullptr, this, nullptr);
    m_doc = doc;
    m_estimator = estimator;
    if (m_doc) {
        connect(m_doc, &CompressionDocument::configChanged, this, &LayerTableModel::onConfigChanged);
        connect(m_doc, &CompressionDocument::modelReset, this,
                [this] { emitColumnsChanged(Precision, Latency); });
    }
    if (m_estimator)
        connect(m_estimator, &ModelEstimator::resultsChanged, this,
                [this] { emitColumnsChanged(Compressed, BitsPerWeight); });
    endResetModel();
}

void LayerTableModel::emitColumnsChanged(int first, int last)
{
    if (!m_rows.empty())
        emit dataChanged(index(0, first), index(rowCount() - 1, last));
}

void LayerTableModel::onConfigChanged(const QList<int>& layers)
{
    // One signal over the changed rows' span: a view whose columns fit their contents measures
    // every row for each signal, so a signal per row made a 300-layer budget solve take seconds.
    int first = rowCount(), last = -1;
    for (int l : layers) {
        if (l < 0 || static_cast<size_t>(l) >= m_rowOfLayer.size() || m_rowOfLayer[static_cast<size_t>(l)] < 0)
            continue;
        const int row = m_rowOfLayer[static_cast<size_t>(l)];
        if (row < rowCount()) {
            first = std::min(first, row);
            last = std::max(last, row);
        }
    }
    if (first <= last)
        emit dataChanged(index(first, Precision), index(last, Latency));
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const
{
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && m_doc && isConfigColumn(index.column()) &&
        m_rows[static_cast<size_t>(index.row())].layer >= 0)
        f |= Qt::ItemIsEditable;
    return f;
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (role != Qt::EditRole || !(flags(index) & Qt::ItemIsEditable))
        return false;
    const int layer = m_rows[static_cast<size_t>(index.row())].layer;
    QList<int> targets = m_selected ? m_selected() : QList<int>();
    if (!targets.contains(layer))
        targets = {layer};
    const QString what = targets.size() == 1 ? m_doc->layerName(layer) : tr("%n layers", nullptr, int(targets.size()));
    const QString text = value.toString();
    switch (index.column()) {
    case Precision: {
        const auto p = bonsai::parsePrecision(text.toStdString());
        if (!p)
            return false;
        m_doc->edit(targets, [&](bonsai::LayerConfig& c) { c.precision = *p; },
                    tr("Set %1 precision to %2").arg(what, text));
        return true;
    }
    case Sparsity: {
        bonsai::LayerConfig probe = m_doc->config(layer);
        if (!parseSparsity(text, probe))
            return false;
        m_doc->edit(targets, [&](bonsai::LayerConfig& c) { parseSparsity(text, c); },
                    tr("Set %1 sparsity to %2").arg(what, sparsityText(probe)));
        return true;
    }
    case Rank: {
        bool ok = false;
        const int rank = text == QStringLiteral("—") ? 0 : value.toInt(&ok);
        if (text != QStringLiteral("—") && (!ok || rank < 0))
            return false;
        m_doc->edit(targets, [&](bonsai::LayerConfig& c) {
            c.rank = rank;
            c.energy = 0;
        }, rank ? tr("Set %1 rank to %2").arg(what).arg(rank) : tr("Full rank for %1").arg(what));
        return true;
    }
    }
    return false;
}

QVariant LayerTableModel::compressionData(const Row& r, int col, int role) const
{
    if (r.layer < 0 || !m_doc || r.layer >= m_doc->layerCount())
        return {};
    const bonsai::LayerConfig& c = m_doc->config(r.layer);
    const bonsai::LayerResult* res = m_estimator ? m_estimator->result(r.layer) : nullptr;
    const QString error = m_estimator ? m_estimator->error(r.layer) : QString();
    const uint64_t biasBytes = res ? res->biasBits / 8 : 0;
    const uint64_t compressed = res ? (res->compressedBits + 7) / 8 + biasBytes : 0;
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case Precision: return precisionText(c);
        case Sparsity: return sparsityText(c);
        case Rank: return rankText(c);
        case Compressed: return res ? formatBytes(compressed) : error.isEmpty() ? QStringLiteral("…") : tr("error");
        case BitsPerWeight: return res ? QString::number(res->bitsPerWeight(), 'f', 2) : QStringLiteral("…");
        }
        break;
    case Qt::EditRole:
        switch (col) {
        case Precision: return QString::fromStdString(bonsai::precisionName(c.precision));
        case Sparsity: return sparsityText(c);
        case Rank: return c.rank;
        }
        break;
    case SortRole:
        switch (col) {
        case Precision: return res ? res->bitsPerWeight() : 0.0;
        case Sparsity: return c.pattern == bonsai::SparsityPattern::NM ? 1.0 - double(c.n) / c.m : c.sparsity;
        case Rank: return c.rank > 0 ? double(c.rank) : c.energy;
        case Compressed: return QVariant::fromValue<qulonglong>(compressed);
        case BitsPerWeight: return res ? res->bitsPerWeight() : 0.0;
        }
        break;
    case Qt::ToolTipRole:
        if (!error.isEmpty() && col >= Compressed)
            return error;
        if (col == Precision)
            return precisionHelp(QString::fromStdString(bonsai::precisionName(c.precision)));
        if (res && col >= Compressed)
            return tr("%1 → %2 (%3 bits per weight; bias unchanged)\nrelative error %4, SQNR %5 dB")
                .arg(formatBytes((res->originalBits + 7) / 8 + biasBytes), formatBytes(compressed))
                .arg(res->bitsPerWeight(), 0, 'f', 3)
                .arg(res->error.relFrobenius, 0, 'g', 3)
                .arg(res->error.sqnrDb, 0, 'f', 1);
        return QString::fromStdString(bonsai::describe(c));
    case MaxRankRole: {
        const auto& t = m_model->tensors[static_cast<size_t>(r.tensor)];
        const int axis = std::clamp(r.channelAxis, 0, std::max(0, int(t.shape.size()) - 1));
        const uint64_t rows = t.shape.empty() ? 1 : static_cast<uint64_t>(t.shape[static_cast<size_t>(axis)]);
        return QVariant::fromValue<qulonglong>(rows ? std::min(rows, t.numel / rows) : 0);
    }
    case Qt::TextAlignmentRole:
        if (col >= Compressed)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
    }
    return {};
}

QVariant LayerTableModel::compressionHeader(int section, int role) const
{
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Precision: return tr("Precision");
        case Sparsity: return tr("Sparsity");
        case Rank: return tr("Rank");
        case Compressed: return tr("Compressed");
        case BitsPerWeight: return tr("Bits/w");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case Precision: return tr("Bits per stored weight (double-click to change)");
        case Sparsity: return tr("Fraction of weights pruned and the pattern (double-click to change)");
        case Rank: return tr("Low-rank factorization rank; — keeps the full matrix (double-click to change)");
        case Compressed: return tr("Bytes after compression (weight plus unchanged bias)");
        case BitsPerWeight: return tr("Compressed weight bits divided by the number of weights");
        }
    }
    return {};
}

} // namespace bonsai::ui
