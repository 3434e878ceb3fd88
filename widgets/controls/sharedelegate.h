#pragma once
// Draws a cell's share of the whole as a horizontal bar behind its percentage text.
#include <QStyledItemDelegate>

namespace bonsai::ui {

class ShareDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    // `fractionRole` holds a number in [0, 1].
    explicit ShareDelegate(int fractionRole, QObject* parent = nullptr);
    void paint(QPainter* painter, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override;

private:
    int m_role;
};

} // namespace bonsai::ui
