#pragma once
// The budget search's sensitivity map with the line under it. The map is a SensitivityModel
// in a table drawn by SensitivityDelegate (layers x candidates); until there is a table, its
// place says what to do. A click on a cell pins the layer to that candidate (again: unpins;
// also a context menu), each an undo step of the BudgetSearch. The line under the map is the
// selected layer's explanation.
#include <QWidget>

class QLabel;
class QModelIndex;
class QStackedWidget;
class QTableView;

namespace bonsai::ui {

class BudgetSearch;
class SensitivityModel;

class SearchMap : public QWidget {
    Q_OBJECT
public:
    SearchMap(BudgetSearch* search, SensitivityModel* model, QWidget* parent = nullptr);

    QTableView* view() const { return m_view; }
    // The map while the search has a table, else `emptyText` in its place.
    void showState(const QString& emptyText);
    bool isMapShown() const;
    QString emptyText() const;
    // A click on a cell: pins the layer to its candidate, or unpins it.
    void activateCell(const QModelIndex& index);
    void updateDetail();
    QString detailText() const;
    // The height of the header, `rows` rows, the scroll bar and the line under the map.
    int compactHeight(int rows) const;

signals:
    void mapReset(); // the model was reset (a new table, or none)

private:
    void showContextMenu(const QPoint& pos);

    BudgetSearch* m_search;
    SensitivityModel* m_model;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_empty = nullptr;
    QTableView* m_view = nullptr;
    QLabel* m_detail = nullptr;
};

} // namespace bonsai::ui
