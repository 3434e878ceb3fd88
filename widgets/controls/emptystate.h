#pragma once
// What the window shows before a model is open: how to start and which formats work.
#include <QWidget>

class QLabel;

namespace bonsai::ui {

class EmptyState : public QWidget {
    Q_OBJECT
public:
    explicit EmptyState(QWidget* parent = nullptr);
    void setBusy(const QString& message); // "Opening …"; an empty message restores the hint

signals:
    void openFileRequested();
    void openFolderRequested();

private:
    QLabel* m_status;
};

} // namespace bonsai::ui
