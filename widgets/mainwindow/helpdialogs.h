#pragma once
// The Help menu's texts: a quick start for a new user and the list of keyboard shortcuts,
// built from the menu bar's actions so that it always says what the window really binds.
#include <QString>

class QMenuBar;
class QWidget;

namespace bonsai::ui {

// "Menu › Action — Shortcut" lines (HTML table rows) for every menu action with a shortcut.
QString shortcutTable(const QMenuBar* bar);
QString quickStartText();

void showQuickStart(QWidget* parent);
void showShortcuts(QWidget* parent, const QMenuBar* bar);

} // namespace bonsai::ui
