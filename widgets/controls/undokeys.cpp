#include "undokeys.h"

#include <QAbstractSpinBox>
#include <QEvent>
#include <QKeyEvent>
#include <QKeySequence>
#include <QWidget>

namespace bonsai::ui {

namespace {

class UndoKeyFilter : public QObject {
public:
    using QObject::QObject;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override
    {
        // A spin box accepts the ShortcutOverride of Ctrl+Z for its line edit, which keeps
        // the window's Undo shortcut from firing. Stopping that event here (not accepted)
        // lets the shortcut through; other keys reach the spin box as before.
        if (event->type() == QEvent::ShortcutOverride) {
            auto* key = static_cast<QKeyEvent*>(event);
            if (key->matches(QKeySequence::Undo) || key->matches(QKeySequence::Redo)) {
                event->ignore();
                return true;
            }
        }
        return QObject::eventFilter(watched, event);
    }
};

} // namespace

void passUndoKeysToWindow(QWidget* root)
{
    static const char* const name = "bonsaiUndoKeyFilter";
    QObject* filter = root->findChild<QObject*>(QLatin1String(name), Qt::FindDirectChildrenOnly);
    if (!filter) {
        filter = new UndoKeyFilter(root);
        filter->setObjectName(QLatin1String(name));
    }
    for (QAbstractSpinBox* box : root->findChildren<QAbstractSpinBox*>()) {
        box->removeEventFilter(filter); // installed once per box, however often this is called
        box->installEventFilter(filter);
    }
}

} // namespace bonsai::ui
