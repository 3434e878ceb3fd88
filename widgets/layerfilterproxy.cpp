#include "layerfilterproxy.h"

#include "layertablemodel.h"

namespace bonsai::ui {

LayerFilterProxy::LayerFilterProxy(QObject* parent) : QSortFilterProxyModel(parent)
{
    setSortRole(LayerTableModel::SortRole);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

void LayerFilterProxy::setSearchText(const QString& text)
{
    const QString t = text.trimmed();
    if (t == m_text)
        return;
    m_text = t;
    invalidateRowsFilter();
}

bool LayerFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    if (m_text.isEmpty())
        return true;
    for (int col : {LayerTableModel::Name, LayerTableModel::Op, LayerTableModel::DType}) {
        const QModelIndex idx = sourceModel()->index(sourceRow, col, sourceParent);
        if (idx.data(Qt::DisplayRole).toString().contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace bonsai::ui
