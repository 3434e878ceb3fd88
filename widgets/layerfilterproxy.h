#pragma once
// Sorts the layer table by raw numbers and filters rows by a case-insensitive substring of
// the name, op or dtype.
#include <QSortFilterProxyModel>

namespace bonsai::ui {

class LayerFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LayerFilterProxy(QObject* parent = nullptr);
    void setSearchText(const QString& text);
    QString searchText() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QString m_text;
};

} // namespace bonsai::ui
