#include "focusstyle.h"

#include <QApplication>
#include <QPainter>
#include <QPen>
#include <QStyleFactory>
#include <QStyleOption>

#include <cstdlib>

namespace bonsai::ui {

FocusStyle::FocusStyle(QStyle* base) : QProxyStyle(base) {}

void FocusStyle::drawPrimitive(PrimitiveElement element, const QStyleOption* option, QPainter* painter,
                               const QWidget* widget) const
{
    if (element != PE_FrameFocusRect || !option) {
        QProxyStyle::drawPrimitive(element, option, painter, widget);
        return;
    }
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing, false);
    // On a selected item (the highlight behind it) the frame is drawn darker, so it shows.
    QColor color = option->palette.color(QPalette::Highlight);
    if (const auto* focus = qstyleoption_cast<const QStyleOptionFocusRect*>(option)) {
        const QColor bg = focus->backgroundColor;
        if (bg.isValid() && std::abs(bg.red() - color.red()) + std::abs(bg.green() - color.green()) +
                                    std::abs(bg.blue() - color.blue()) < 120)
            color = color.darker(220);
    }
    painter->setPen(QPen(color, 2));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(QRectF(option->rect).adjusted(1, 1, -1, -1));
    painter->restore();
}

void installFocusStyle()
{
    if (qobject_cast<FocusStyle*>(QApplication::style()))
        return;
    // A style of the current kind (QApplication owns the current one and deletes it on change).
    QStyle* base = QStyleFactory::create(QApplication::style()->name());
    QApplication::setStyle(new FocusStyle(base ? base : QStyleFactory::create(QStringLiteral("Fusion"))));
}

} // namespace bonsai::ui
