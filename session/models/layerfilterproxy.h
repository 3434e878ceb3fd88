#pragma once
// Sorts the layer table by raw numbers and filters rows by a case-insensitive substring of
// the name, op or dtype, and (language models) by layer group.
#include <QSortFilterProxyModel>

namespace bonsai::ui {

class LayerFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LayerFilterProxy(QObject* parent = nullptr);
    void setSearchText(const QString& text);
    QString searchText() const { return m_text; }
    // Language models: only rows of one group ("Block 2", "Embeddings", "Output head"),
    // of one part across blocks ("part:attention", "part:mlp"), or all (empty).
    void setGroupFilter(const QString& filter);
    QString groupFilter() const { return m_group; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString m_text;
    QString m_group;
};

} // namespace bonsai::ui
