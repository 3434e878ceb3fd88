// MainWindow: menus, file dialogs, drag and drop, About.
#include "mainwindow.h"

#include "recentfiles.h"

#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>

namespace bonsai::ui {

static const auto LastDirKey = QStringLiteral("lastDirectory");

static QString firstLocalPath(const QMimeData* mime)
{
    if (!mime || !mime->hasUrls())
        return {};
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile())
            return url.toLocalFile();
    return {};
}

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open…"), this, &MainWindow::openFileDialog);
    open->setShortcut(QKeySequence::Open);
    open->setStatusTip(tr("Open a .safetensors, .onnx or .gguf file, or a sharded index.json"));
    QAction* folder = file->addAction(tr("Open &Folder…"), this, &MainWindow::openFolderDialog);
    folder->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    folder->setStatusTip(tr("Open a sharded or Hugging Face checkpoint folder"));
    QMenu* recent = file->addMenu(tr("Open &Recent"));
    m_recent = new RecentFiles(recent, this);
    connect(m_recent, &RecentFiles::openRequested, this, &MainWindow::openPath);
    file->addSeparator();
    addRecipeActions(file);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    createCompressionMenus();

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Bonsai"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::openFileDialog()
{
    QSettings s;
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open Model"), s.value(LastDirKey).toString(),
        tr("Models (*.safetensors *.onnx *.gguf *.json);;Safetensors (*.safetensors *.index.json);;"
           "ONNX (*.onnx);;GGUF (*.gguf);;All files (*)"));
    if (path.isEmpty())
        return;
    s.setValue(LastDirKey, QFileInfo(path).absolutePath());
    openPath(path);
}

void MainWindow::openFolderDialog()
{
    QSettings s;
    const QString dir = QFileDialog::getExistingDirectory(
        this, tr("Open Model Folder"), s.value(LastDirKey).toString());
    if (dir.isEmpty())
        return;
    s.setValue(LastDirKey, dir);
    openPath(dir);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (!firstLocalPath(event->mimeData()).isEmpty())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const QString path = firstLocalPath(event->mimeData());
    if (path.isEmpty())
        return;
    event->acceptProposedAction();
    openPath(path);
}

void MainWindow::showAbout()
{
    QMessageBox::about(
        this, tr("About Bonsai"),
        tr("<h3>Bonsai %1</h3>"
           "<p>A workbench for neural-network compression: inspect where a model's bytes are "
           "and how its weights are distributed, layer by layer, and choose per layer how to "
           "compress them (precision, sparsity, low rank) with a live preview.</p>"
           "<p>Reads safetensors (single, sharded and Hugging Face folders), ONNX and GGUF.</p>")
            .arg(QCoreApplication::applicationVersion()));
}

} // namespace bonsai::ui
