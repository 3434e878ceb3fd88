#include "compressionfeature.h"

#include "bonsai/describe.h"
#include "bonsai/presets.h"
#include "formatting.h"

#include "blockbyteschart.h"
#include "byteschart.h"
#include "compressionchart.h"
#include "compressiondocument.h"
#include "configinspector.h"
#include "configtext.h"
#include "histogramview.h"
#include "layerdetailsview.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewform.h"
#include "previewrunner.h"
#include "summarypanel.h"

#include "bonsai/model.h"

#include <QDockWidget>
#include <QInputDialog>
#include <QLineEdit>
#include <QMenuBar>
#include <QProgressBar>
#include <QStatusBar>
#include <QUndoStack>

namespace bonsai::ui {

CompressionFeature::CompressionFeature(MainWindow* window, CompressionDocument* doc)
    : QObject(window), m_window(window), m_doc(doc)
{
    qRegisterMetaType<bonsai::ui::PreviewResult>();
    m_estimator = new ModelEstimator(m_doc, this);
    m_previewRunner = new PreviewRunner(this);
    m_inspector = new ConfigInspector(m_doc, window);
    m_previewForm = new PreviewForm(m_inspector->help(), window);
    LayerDetailsView* details = window->details();
    details->addBelowHistogram(m_previewForm);
    BytesChart* bytes = window->summary()->bytesChart();
    m_compressionChart = new CompressionChart(m_doc, m_estimator, window);
    bytes->insertTab(0, m_compressionChart, tr("Compression"));
    m_blockChart = new BlockBytesChart(m_doc, m_estimator, window);
    bytes->insertTab(0, m_blockChart, tr("Blocks"));
    bytes->setTabToolTip(0, tr("Bytes per transformer block, attention and MLP, original and compressed"));
    bytes->setTabVisible(0, false); // language models only
    bytes->setCurrentIndex(1);
    LayerTableView* table = window->layerTable();
    table->setCompression(m_doc, m_estimator);

    m_inspectorDock = new QDockWidget(tr("Compression"), window);
    m_inspectorDock->setObjectName(QStringLiteral("inspectorDock"));
    m_inspectorDock->setWidget(m_inspector);
    // Closable like every panel: View > Compression brings it back (and opening a model does).
    m_inspectorDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                                 QDockWidget::DockWidgetClosable);
    m_inspectorDock->setMinimumWidth(250);
    m_inspectorDock->resize(340, m_inspectorDock->height());
    window->addDockWidget(Qt::RightDockWidgetArea, m_inspectorDock);
    // The inspector keeps the window's full height: the bottom docks (evaluation, perplexity,
    // recovery) end at its left edge instead of pushing it into a scroll area.
    window->setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    m_inspectorDock->setVisible(false); // until a model is open

    connect(table, &LayerTableView::layerSelectionChanged, this, &CompressionFeature::onLayerSelectionChanged);
    connect(m_doc, &CompressionDocument::configChanged, this, [this, table](const QList<int>& layers) {
        if (layers.contains(table->currentLayer()))
            requestPreview();
    });
    connect(m_previewRunner, &PreviewRunner::started, this, [this] { m_previewForm->setBusy(true); });
    connect(m_previewRunner, &PreviewRunner::finished, this, &CompressionFeature::onPreviewFinished);
    connect(m_estimator, &ModelEstimator::started, this, [this] {
        m_window->statusBar()->showMessage(tr("Estimating compressed sizes…"));
    });
    connect(m_estimator, &ModelEstimator::progress, this, [this](double f) {
        if (m_window->isProgressBarTaken())
            return; // the statistics own the progress bar
        QProgressBar* bar = m_window->progressBar();
        bar->setRange(0, 1000);
        bar->setValue(static_cast<int>(f * 1000));
        bar->setFormat(tr("Compressing: %p%"));
        bar->setVisible(true);
    });
    connect(m_estimator, &ModelEstimator::resultsChanged, this, [this] {
        if (!m_estimator->isComplete())
            return;
        if (!m_window->isProgressBarTaken())
            m_window->progressBar()->setVisible(false);
        m_window->statusBar()->showMessage(tr("Compressed sizes up to date"), 3000);
        emit estimatesReady();
    });
}

void CompressionFeature::addMenus(QMenuBar* bar)
{
    QMenu* edit = bar->addMenu(tr("&Edit"));
    QAction* undo = m_doc->undoStack()->createUndoAction(m_window, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_doc->undoStack()->createRedoAction(m_window, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    QAction* match = edit->addAction(tr("Apply to Layers &Matching…"), this, &CompressionFeature::applyToMatchingDialog);
    match->setStatusTip(tr("Copy the current layer's settings to every layer whose name matches a regular expression"));

    QMenu* presets = bar->addMenu(tr("&Presets"));
    presets->setToolTipsVisible(true);
    for (const bonsai::PresetInfo& info : bonsai::presets()) {
        const bonsai::Preset preset = info.preset;
        if (preset == bonsai::Preset::Reset)
            presets->addSeparator();
        QAction* a = presets->addAction(qstr(info.name), this, [this, preset] { applyPreset(preset); });
        if (preset != bonsai::Preset::Reset) // Ctrl+1 .. Ctrl+5 in menu order
            a->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + int(preset))));
        a->setToolTip(qstr(info.help));
        a->setStatusTip(qstr(info.help));
    }
}

void CompressionFeature::setModel(const std::shared_ptr<const bonsai::Model>& model)
{
    m_previewRunner->setModel(model);
}

void CompressionFeature::modelShown()
{
    // Language models open on the chart of their blocks, other models on the compression chart.
    BytesChart* bytes = m_window->summary()->bytesChart();
    const int blocksTab = bytes->indexOf(m_blockChart);
    bytes->setTabVisible(blocksTab, m_blockChart->hasData());
    bytes->setCurrentIndex(m_blockChart->hasData() ? blocksTab : blocksTab + 1);
    m_inspectorDock->setVisible(true);
}

void CompressionFeature::onLayerSelectionChanged(const QList<int>& layers)
{
    m_inspector->setLayers(layers);
    requestPreview();
}

void CompressionFeature::requestPreview()
{
    const int layer = m_window->layerTable()->currentLayer();
    if (layer < 0) {
        m_previewRunner->clear();
        m_window->details()->histogram()->clearOverlay();
        m_previewForm->clear(tr("Select a layer to preview its compression."));
        return;
    }
    m_previewRunner->request(layer, m_doc->config(layer));
}

void CompressionFeature::onPreviewFinished(const PreviewResult& r)
{
    m_previewForm->setResult(r);
    const auto& model = m_doc->model();
    HistogramView* histogram = m_window->details()->histogram();
    if (!model || r.layer < 0 || !r.error.isEmpty() || r.result.config.isIdentity()) {
        histogram->clearOverlay();
    } else {
        HistogramOverlay o;
        o.tensor = model->layers[static_cast<size_t>(r.layer)].weight;
        o.lo = r.lo;
        o.hi = r.hi;
        o.counts = r.compressed;
        o.name = tr("compressed (%1)").arg(precisionText(r.result.config));
        histogram->setOverlay(o);
    }
    emit previewShown(r.layer);
}

void CompressionFeature::applyPreset(bonsai::Preset preset)
{
    const auto& model = m_doc->model();
    if (!model)
        return;
    QList<int> all;
    for (int i = 0; i < m_doc->layerCount(); ++i)
        all << i;
    m_doc->setConfigs(all, bonsai::presetConfigs(preset, *model), tr("Preset: %1").arg(qstr(bonsai::presetInfo(preset).name)));
}

bool CompressionFeature::applyToMatching(const QString& regex)
{
    LayerTableView* table = m_window->layerTable();
    const int current = table->currentLayer();
    QString error;
    const QList<int> layers = m_doc->layersMatching(regex, &error);
    if (!error.isEmpty()) {
        m_window->reportError(tr("Apply to layers matching"), error);
        return false;
    }
    if (current < 0 || layers.isEmpty()) {
        m_window->statusBar()->showMessage(
            current < 0 ? tr("Select a layer first") : tr("No layer matches %1").arg(regex), 5000);
        return false;
    }
    const bonsai::LayerConfig c = m_doc->config(current);
    m_doc->setConfigs(layers, std::vector<bonsai::LayerConfig>(static_cast<size_t>(layers.size()), c),
                      tr("Apply %1 to layers matching %2").arg(QString::fromStdString(bonsai::describe(c)), regex));
    table->selectLayers(layers.contains(current) ? QList<int>{current} + layers : layers);
    m_window->statusBar()->showMessage(tr("Applied to %n layers", nullptr, int(layers.size())), 5000);
    return true;
}

void CompressionFeature::applyToMatchingDialog()
{
    const int current = m_window->layerTable()->currentLayer();
    if (current < 0) {
        m_window->statusBar()->showMessage(tr("Select a layer whose settings to copy first"), 5000);
        return;
    }
    bool ok = false;
    const QString regex = QInputDialog::getText(
        m_window, tr("Apply to Layers Matching"),
        tr("Copy the settings of %1 (%2) to every layer whose name matches this regular expression:")
            .arg(m_doc->layerName(current), QString::fromStdString(bonsai::describe(m_doc->config(current)))),
        QLineEdit::Normal, QStringLiteral("mlp|ffn"), &ok);
    if (ok && !regex.isEmpty())
        applyToMatching(regex);
}

} // namespace bonsai::ui
