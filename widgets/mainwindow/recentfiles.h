#pragma once
// File > Open Recent: the last opened paths (up to MaxEntries) kept in QSettings.
#include <QObject>
#include <QStringList>

class QMenu;

namespace bonsai::ui {

class RecentFiles : public QObject {
    Q_OBJECT
public:
    static constexpr int MaxEntries = 10;

    RecentFiles(QMenu* menu, QObject* parent = nullptr);
    void add(const QString& path);
    void clear();
    QStringList paths() const;

signals:
    void openRequested(const QString& path);

private:
    void save(const QStringList& paths);
    void rebuildMenu();

    QMenu* m_menu;
};

} // namespace bonsai::ui
