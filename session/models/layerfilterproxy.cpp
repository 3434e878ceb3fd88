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

void LayerFilterProxy::setGroupFilter(const QString& filter)
{
    if (filter == m_group)
        return;
    m_group = filter;
    invalidateRowsFilter();
}

bool LayerFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex name = sourceModel()->index(sourceRow, LayerTableModel::Name, sourceParent);
    if (!m_group.isEmpty()) {
        static const QString partPrefix = QStringLiteral("part:");
        if (m_group.startsWith(partPrefix)) {
            if (name.data(LayerTableModel::PartRole).toString() != m_group.mid(partPrefix.size()))
                return false;
        } else if (name.data(LayerTableModel::GroupKeyRole).toString() != m_group) {
            return false;
        }
    }
    if (m_text.isEmpty())
        return true;
    if (name.data(LayerTableModel::FullNameRole).toString().contains(m_text, Qt::CaseInsensitive))
        return true;
    for (int col : {LayerTableModel::Name, LayerTableModel::Group, LayerTableModel::Op, LayerTableModel::DType}) {
        const QModelIndex idx = sourceModel()->index(sourceRow, col, sourceParent);
        if (idx.data(Qt::DisplayRole).toString().contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace bonsai::ui
