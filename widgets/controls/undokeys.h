#pragma once
// Ctrl+Z / Ctrl+Shift+Z (Undo, Redo) inside the configuration editors' spin boxes undo the
// document, as everywhere else in the window, instead of the spin box's own text undo: a
// typed value is a document edit already, so the spin box's private history only hid it.
class QWidget;

namespace bonsai::ui {

// Every spin box under `root` (now; add later ones with another call) leaves the Undo and
// Redo key sequences to the window's actions.
void passUndoKeysToWindow(QWidget* root);

} // namespace bonsai::ui
