// MainWindow: the compression editor — document, inspector dock, live preview, model chart,
// Edit and Presets menus, recipes.
#include "mainwindow.h"
#include "bonsai/describe.h"
#include "bonsai/presets.h"
#include "formatting.h"

#include "blockbyteschart.h"
#include "byteschart.h"
#include "compressionchart.h"
#include "compressiondocument.h"
#include "configinspector.h"
#include "configtext.h"
#include "helppane.h"
#include "histogramview.h"
#include "layerdetailsview.h"
#include "layertableview.h"
#include "modelloader.h"
#include "modelestimator.h"
#include "previewform.h"
#include "previewrunner.h"
#include "statsrunner.h"
#include "summarypanel.h"

#include "bonsai/model.h"

#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QUndoStack>

namespace bonsai::ui {


void MainWindow::setupCompression()
{
    qRegisterMetaType<bonsai::ui::PreviewResult>();
    m_doc = new CompressionDocument(this);
    m_estimator = new ModelEstimator(m_doc, this);
    m_previewRunner = new PreviewRunner(this);
    m_inspector = new ConfigInspector(m_doc, this);
    m_previewForm = new PreviewForm(m_inspector->help(), this);
    m_details->addBelowHistogram(m_previewForm);
    m_compressionChart = new CompressionChart(m_doc, m_estimator, this);
    m_summary->bytesChart()->insertTab(0, m_compressionChart, tr("Compression"));
    m_blockChart = new BlockBytesChart(m_doc, m_estimator, this);
    m_summary->bytesChart()->insertTab(0, m_blockChart, tr("Blocks"));
    m_summary->bytesChart()->setTabToolTip(0, tr("Bytes per transformer block, attention and MLP, original and compressed"));
    m_summary->bytesChart()->setTabVisible(0, false); // language models only
    m_summary->bytesChart()->setCurrentIndex(1);
    m_table->setCompression(m_doc, m_estimator);

    m_inspectorDock = new QDockWidget(tr("Compression"), this);
    m_inspectorDock->setObjectName(QStringLiteral("inspectorDock"));
    m_inspectorDock->setWidget(m_inspector);
    m_inspectorDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    m_inspectorDock->setMinimumWidth(250);
    m_inspectorDock->resize(340, m_inspectorDock->height());
    addDockWidget(Qt::RightDockWidgetArea, m_inspectorDock);
    // The inspector keeps the window's full height: the bottom docks (evaluation, perplexity,
    // recovery) end at its left edge instead of pushing it into a scroll area.
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    m_inspectorDock->setVisible(false); // until a model is open

    connect(m_table, &LayerTableView::layerSelectionChanged, this, &MainWindow::onLayerSelectionChanged);
    connect(m_doc, &CompressionDocument::configChanged, this, [this](const QList<int>& layers) {
        if (layers.contains(m_table->currentLayer()))
            requestPreview();
    });
    connect(m_doc, &CompressionDocument::modifiedChanged, this, &MainWindow::updateTitle);
    connect(m_doc, &CompressionDocument::recipePathChanged, this, &MainWindow::updateTitle);
    connect(m_previewRunner, &PreviewRunner::started, this, [this] { m_previewForm->setBusy(true); });
    connect(m_previewRunner, &PreviewRunner::finished, this, &MainWindow::onPreviewFinished);
    connect(m_estimator, &ModelEstimator::started, this, [this] {
        statusBar()->showMessage(tr("Estimating compressed sizes…"));
    });
    connect(m_estimator, &ModelEstimator::progress, this, [this](double f) {
        if (m_stats->isBusy() || m_loader->isBusy())
            return; // the statistics own the progress bar
        m_progress->setRange(0, 1000);
        m_progress->setValue(static_cast<int>(f * 1000));
        m_progress->setFormat(tr("Compressing: %p%"));
        m_progress->setVisible(true);
    });
    connect(m_estimator, &ModelEstimator::resultsChanged, this, [this] {
        if (!m_estimator->isComplete())
            return;
        if (!m_stats->isBusy() && !m_loader->isBusy())
            m_progress->setVisible(false);
        statusBar()->showMessage(tr("Compressed sizes up to date"), 3000);
        emit estimatesReady();
    });
}

void MainWindow::addRecipeActions(QMenu* file)
{
    QAction* open = file->addAction(tr("Open &Recipe…"), this, &MainWindow::openRecipeDialog);
    open->setStatusTip(tr("Apply a JSON recipe (per-layer compression settings) to the open model"));
    open->setShortcut(QKeySequence(tr("Ctrl+Shift+R")));
    QAction* save = file->addAction(tr("&Save Recipe"), this, &MainWindow::saveRecipe);
    save->setShortcut(QKeySequence::Save);
    save->setStatusTip(tr("Save the compression settings as a recipe for bonsai-cli compress"));
    QAction* saveAs = file->addAction(tr("Save Recipe &As…"), this, &MainWindow::saveRecipeAs);
    saveAs->setShortcut(QKeySequence::SaveAs);
    for (QAction* a : {open, save, saveAs}) {
        a->setEnabled(false);
        connect(m_loader, &ModelLoader::loaded, a, [a] { a->setEnabled(true); });
    }
}

void MainWindow::createCompressionMenus()
{
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_doc->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_doc->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    QAction* match = edit->addAction(tr("Apply to Layers &Matching…"), this, &MainWindow::applyToMatchingDialog);
    match->setStatusTip(tr("Copy the current layer's settings to every layer whose name matches a regular expression"));

    QMenu* presets = menuBar()->addMenu(tr("&Presets"));
    presets->setToolTipsVisible(true);
    for (const bonsai::PresetInfo& info : bonsai::presets()) {
        const bonsai::Preset preset = info.preset;
        if (preset == bonsai::Preset::Reset)
            presets->addSeparator();
        QAction* a = presets->addAction(qstr(info.name), this, [this, preset] { applyPreset(preset); });
        a->setToolTip(qstr(info.help));
        a->setStatusTip(qstr(info.help));
    }
}

void MainWindow::onLayerSelectionChanged(const QList<int>& layers)
{
    m_inspector->setLayers(layers);
    requestPreview();
}

void MainWindow::requestPreview()
{
    const int layer = m_table->currentLayer();
    if (layer < 0) {
        m_previewRunner->clear();
        m_details->histogram()->clearOverlay();
        m_previewForm->clear(tr("Select a layer to preview its compression."));
        return;
    }
    m_previewRunner->request(layer, m_doc->config(layer));
}

void MainWindow::onPreviewFinished(const PreviewResult& r)
{
    m_previewForm->setResult(r);
    if (!m_model || r.layer < 0 || !r.error.isEmpty() || r.result.config.isIdentity()) {
        m_details->histogram()->clearOverlay();
    } else {
        HistogramOverlay o;
        o.tensor = m_model->layers[static_cast<size_t>(r.layer)].weight;
        o.lo = r.lo;
        o.hi = r.hi;
        o.counts = r.compressed;
        o.name = tr("compressed (%1)").arg(precisionText(r.result.config));
        m_details->histogram()->setOverlay(o);
    }
    emit previewShown(r.layer);
}

void MainWindow::updateTitle()
{
    if (m_modelFile.isEmpty()) {
        setWindowTitle(tr("Bonsai"));
        return;
    }
    const QString recipe = m_doc->recipePath().isEmpty() ? QString()
                                                         : tr(" · %1").arg(QFileInfo(m_doc->recipePath()).fileName());
    setWindowTitle(tr("Bonsai — %1%2[*]").arg(m_modelFile, recipe));
    setWindowModified(m_doc->isModified());
}

void MainWindow::applyPreset(bonsai::Preset preset)
{
    if (!m_model)
        return;
    QList<int> all;
    for (int i = 0; i < m_doc->layerCount(); ++i)
        all << i;
    m_doc->setConfigs(all, bonsai::presetConfigs(preset, *m_model), tr("Preset: %1").arg(qstr(bonsai::presetInfo(preset).name)));
}

bool MainWindow::applyToMatching(const QString& regex)
{
    const int current = m_table->currentLayer();
    QString error;
    const QList<int> layers = m_doc->layersMatching(regex, &error);
    if (!error.isEmpty()) {
        reportError(tr("Apply to layers matching"), error);
        return false;
    }
    if (current < 0 || layers.isEmpty()) {
        statusBar()->showMessage(current < 0 ? tr("Select a layer first") : tr("No layer matches %1").arg(regex), 5000);
        return false;
    }
    const bonsai::LayerConfig c = m_doc->config(current);
    m_doc->setConfigs(layers, std::vector<bonsai::LayerConfig>(static_cast<size_t>(layers.size()), c),
                      tr("Apply %1 to layers matching %2").arg(QString::fromStdString(bonsai::describe(c)), regex));
    m_table->selectLayers(layers.contains(current) ? QList<int>{current} + layers : layers);
    statusBar()->showMessage(tr("Applied to %n layers", nullptr, int(layers.size())), 5000);
    return true;
}

void MainWindow::applyToMatchingDialog()
{
    if (m_table->currentLayer() < 0) {
        statusBar()->showMessage(tr("Select a layer whose settings to copy first"), 5000);
        return;
    }
    bool ok = false;
    const QString regex = QInputDialog::getText(
        this, tr("Apply to Layers Matching"),
        tr("Copy the settings of %1 (%2) to every layer whose name matches this regular expression:")
            .arg(m_doc->layerName(m_table->currentLayer()), QString::fromStdString(bonsai::describe(m_doc->config(m_table->currentLayer())))),
        QLineEdit::Normal, QStringLiteral("mlp|ffn"), &ok);
    if (ok && !regex.isEmpty())
        applyToMatching(regex);
}

bool MainWindow::maybeDiscardChanges()
{
    if (!m_doc->isModified() || !m_errorDialogs)
        return true;
    const auto answer = QMessageBox::question(
        this, tr("Unsaved compression settings"),
        tr("The compression settings have unsaved changes. Save them as a recipe?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Save)
        return saveRecipe();
    return answer == QMessageBox::Discard;
}

} // namespace bonsai::ui
