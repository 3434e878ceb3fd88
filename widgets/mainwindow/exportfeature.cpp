#include "exportfeature.h"

#include "compressiondocument.h"
#include "evalpanel.h"
#include "exportdialog.h"
#include "mainwindow.h"
#include "perplexitypanel.h"

#include <QAction>
#include <QMenu>
#include <QStatusBar>

namespace bonsai::ui {

ExportFeature::ExportFeature(MainWindow* window, CompressionDocument* doc)
    : QObject(window), m_window(window), m_doc(doc)
{
}

void ExportFeature::addActions(QMenu* file)
{
    QAction* a = file->addAction(tr("&Export…"), this, &ExportFeature::openDialog);
    a->setObjectName(QStringLiteral("exportAction"));
    a->setShortcut(QKeySequence(tr("Ctrl+E")));
    a->setStatusTip(tr("Write the compressed model for another runtime (GGUF for llama.cpp, ONNX for ONNX Runtime), "
                       "after a check of what the format can store"));
    a->setEnabled(false);
    connect(m_window, &MainWindow::modelOpened, a, [a] { a->setEnabled(true); });
}

ExportDialog* ExportFeature::openDialog()
{
    if (!m_doc->model())
        return nullptr;
    if (m_dialog && m_dialog->isRunning()) {
        m_dialog->raise();
        return m_dialog;
    }
    delete m_dialog;
    // The prediction uses the data chosen in the window's Evaluation and Perplexity docks.
    ExportPredictionData data;
    data.eval = m_window->evalPanel()->settings();
    const PerplexityPanel* perplexity = m_window->perplexityPanel();
    data.text = perplexity->textFile().trimmed();
    const bonsai::PerplexityOptions popt = perplexity->options();
    data.ctx = popt.ctx;
    data.maxChunks = popt.maxChunks;
    data.calibration = perplexity->calibrationFile();
    m_dialog = new ExportDialog(m_doc->model(), m_doc->configs(), std::move(data), m_window);
    m_dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(m_dialog, &ExportDialog::exported, m_window, [this](const QString& path, qint64) {
        m_window->statusBar()->showMessage(tr("Exported %1").arg(path), 10000);
    });
    connect(m_dialog, &ExportDialog::exportFailed, m_window,
            [this](const QString& message) { m_window->reportError(tr("Export failed"), message); });
    m_dialog->show();
    return m_dialog;
}

} // namespace bonsai::ui
