#include "recentfiles.h"

#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace bonsai::ui {

static const auto SettingsKey = QStringLiteral("recentFiles");

RecentFiles::RecentFiles(QMenu* menu, QObject* parent) : QObject(parent), m_menu(menu)
{
    rebuildMenu();
}

QStringList RecentFiles::paths() const
{
    return QSettings().value(SettingsKey).toStringList();
}

void RecentFiles::add(const QString& path)
{
    const QString abs = QFileInfo(path).absoluteFilePath();
    QStringList list = paths();
    list.removeAll(abs);
    list.prepend(abs);
    while (list.size() > MaxEntries)
        list.removeLast();
    save(list);
}

void RecentFiles::clear() { save({}); }

void RecentFiles::save(const QStringList& list)
{
    QSettings().setValue(SettingsKey, list);
    rebuildMenu();
}

void RecentFiles::rebuildMenu()
{
    m_menu->clear();
    const QStringList list = paths();
    int n = 0;
    for (const QString& p : list) {
        const QFileInfo fi(p);
        const QString text = (++n < 10 ? QStringLiteral("&%1 ").arg(n) : QString()) +
                             (fi.fileName().isEmpty() ? p : fi.fileName());
        QAction* a = m_menu->addAction(text);
        a->setToolTip(QDir::toNativeSeparators(p));
        a->setStatusTip(QDir::toNativeSeparators(p));
        connect(a, &QAction::triggered, this, [this, p] { emit openRequested(p); });
    }
    if (!list.isEmpty())
        m_menu->addSeparator();
    QAction* clearAction = m_menu->addAction(tr("Clear Recent Files"));
    clearAction->setEnabled(!list.isEmpty());
    connect(clearAction, &QAction::triggered, this, &RecentFiles::clear);
    m_menu->setEnabled(true);
}

} // namespace bonsai::ui
