#include "sharedelegate.h"

#include <QApplication>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

ShareDelegate::ShareDelegate(int fractionRole, QObject* parent)
    : QStyledItemDelegate(parent), m_role(fractionRole)
{
}

void ShareDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                          const QModelIndex& index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QString text = opt.text;
    opt.text.clear();
    const QWidget* widget = opt.widget;
    QStyle* style = widget ? widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, widget); // background, focus

    const double fraction = std::clamp(index.data(m_role).toDouble(), 0.0, 1.0);
    const QRect area = opt.rect.adjusted(2, 3, -2, -3);
    painter->save();
    if (fraction > 0) {
        QRect bar = area;
        bar.setWidth(std::max(1, static_cast<int>(std::lround(area.width() * fraction))));
        QColor c = opt.palette.color(QPalette::Highlight);
        c.setAlpha(opt.state & QStyle::State_Selected ? 200 : 90);
        painter->fillRect(bar, c);
    }
    painter->setPen(opt.palette.color(opt.state & QStyle::State_Selected ? QPalette::HighlightedText
                                                                         : QPalette::Text));
    painter->drawText(area.adjusted(2, 0, -2, 0), Qt::AlignRight | Qt::AlignVCenter, text);
    painter->restore();
}

} // namespace bonsai::ui
