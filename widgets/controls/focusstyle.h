#pragma once
// Keyboard focus that can be seen on every control: the application's style with its focus
// frame (what buttons, check boxes, sliders, tabs and table cells draw around themselves when
// focused from the keyboard) replaced by a 2-pixel frame in the palette's highlight colour.
// Line edits, spin boxes and combo boxes keep the style's own highlighted border.
#include <QProxyStyle>

namespace bonsai::ui {

class FocusStyle : public QProxyStyle {
    Q_OBJECT
public:
    explicit FocusStyle(QStyle* base = nullptr); // takes ownership; null: the current style
    void drawPrimitive(PrimitiveElement element, const QStyleOption* option, QPainter* painter,
                       const QWidget* widget = nullptr) const override;
};

// Sets a FocusStyle on the application (once; again is a no-op).
void installFocusStyle();

} // namespace bonsai::ui
