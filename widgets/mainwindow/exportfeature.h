#pragma once
// Export as a feature of the main window: File > Export… (Ctrl+E, once a model is open) opens
// the ExportDialog on the document's model and configuration; a finished export is named in
// the status bar, a failed one goes through the window's reportError().
#include <QObject>
#include <QPointer>

class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class ExportDialog;
class MainWindow;

class ExportFeature : public QObject {
    Q_OBJECT
public:
    ExportFeature(MainWindow* window, CompressionDocument* doc);

    void addActions(QMenu* file);
    // Opens (or raises) the dialog for the current configuration; nullptr without a model.
    ExportDialog* openDialog();

private:
    MainWindow* m_window;
    CompressionDocument* m_doc;
    QPointer<ExportDialog> m_dialog;
};

} // namespace bonsai::ui
