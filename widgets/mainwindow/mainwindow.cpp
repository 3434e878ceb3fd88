#include "mainwindow.h"

#include "compressiondocument.h"
#include "compressionfeature.h"
#include "emptystate.h"
#include "evaluationfeature.h"
#include "formatting.h"
#include "layerdetailsview.h"
#include "layertableview.h"
#include "modelloader.h"
#include "perplexityfeature.h"
#include "recentfiles.h"
#include "exportfeature.h"
#include "recipefeature.h"
#include "recoveryfeature.h"
#include "searchfeature.h"
#include "speedfeature.h"
#include "statsrunner.h"
#include "summarypanel.h"
#include "helpdialogs.h"
#include "windowlayout.h"

#include "bonsai/model.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>

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

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_loader(new ModelLoader(this)), m_stats(new StatsRunner(this)),
      m_central(new QStackedWidget(this)), m_empty(new EmptyState(this)),
      m_mainSplitter(new QSplitter(Qt::Horizontal, this)),
      m_leftSplitter(new QSplitter(Qt::Vertical, this)), m_table(new LayerTableView(this)),
      m_summary(new SummaryPanel(this)), m_details(new LayerDetailsView(this)),
      m_progress(new QProgressBar(this)), m_modelInfo(new QLabel(this)), m_doc(new CompressionDocument(this))
{
    setWindowTitle(tr("Bonsai"));
    setAcceptDrops(true);

    m_leftSplitter->setObjectName(QStringLiteral("leftSplitter"));
    m_leftSplitter->addWidget(m_table);
    m_leftSplitter->addWidget(m_summary);
    m_leftSplitter->setStretchFactor(0, 1);
    m_leftSplitter->setStretchFactor(1, 1);
    m_mainSplitter->setObjectName(QStringLiteral("mainSplitter"));
    m_mainSplitter->addWidget(m_leftSplitter);
    m_mainSplitter->addWidget(m_details);
    m_mainSplitter->setStretchFactor(0, 1);
    m_mainSplitter->setStretchFactor(1, 1);
    for (auto* s : {m_mainSplitter, m_leftSplitter})
        s->setChildrenCollapsible(false);
    m_mainSplitter->setSizes({650, 400}); // proportions until restoreSettings()
    m_leftSplitter->setSizes({480, 420});
    m_central->addWidget(m_empty);
    m_central->addWidget(m_mainSplitter);
    setCentralWidget(m_central);

    m_progress->setMaximumWidth(320);
    m_progress->setMinimumWidth(220);
    m_progress->setTextVisible(true);
    m_progress->setVisible(false);
    statusBar()->addPermanentWidget(m_modelInfo);
    statusBar()->addPermanentWidget(m_progress);

    // The features, in the order their docks are laid out; then the menus they fill.
    m_compression = new CompressionFeature(this, m_doc);
    m_recipes = new RecipeFeature(this, m_doc);
    m_export = new ExportFeature(this, m_doc);
    m_evaluation = new EvaluationFeature(this, m_doc);
    m_recovery = new RecoveryFeature(this, m_doc, m_evaluation, m_compression->estimator());
    m_perplexity = new PerplexityFeature(this, m_doc, m_evaluation);
    m_search = new SearchFeature(this, m_doc, m_evaluation, m_perplexity);
    m_speed = new SpeedFeature(this, m_doc, m_evaluation);
    createMenus();
    connect(m_compression, &CompressionFeature::previewShown, this, &MainWindow::previewShown);
    connect(m_compression, &CompressionFeature::estimatesReady, this, &MainWindow::estimatesReady);
    connect(m_recipes, &RecipeFeature::recipeFailed, this, &MainWindow::recipeFailed);
    connect(m_recipes, &RecipeFeature::recipeSaved, this, &MainWindow::recipeSaved);
    connect(m_doc, &CompressionDocument::modifiedChanged, this, &MainWindow::updateTitle);
    connect(m_doc, &CompressionDocument::recipePathChanged, this, &MainWindow::updateTitle);
    m_windowLayout = new WindowLayout(this, m_mainSplitter, m_leftSplitter, m_summary);

    connect(m_empty, &EmptyState::openFileRequested, this, &MainWindow::openFileDialog);
    connect(m_empty, &EmptyState::openFolderRequested, this, &MainWindow::openFolderDialog);
    connect(m_loader, &ModelLoader::loaded, this, &MainWindow::onLoaded);
    connect(m_loader, &ModelLoader::failed, this, &MainWindow::onLoadFailed);
    connect(m_table, &LayerTableView::currentTensorChanged, this, &MainWindow::onCurrentTensorChanged);
    connect(m_stats, &StatsRunner::started, this,
            [this](const QString& label) { showProgress(label, 0.0); });
    connect(m_stats, &StatsRunner::progress, this, &MainWindow::showProgress);
    connect(m_stats, &StatsRunner::finished, this, &MainWindow::onStatsFinished);
    connect(m_stats, &StatsRunner::failed, this, [this](const QString& label, const QString& msg) {
        m_progress->setVisible(false);
        m_details->showError(label, msg);
        statusBar()->showMessage(tr("Statistics failed: %1").arg(msg), 10000);
        emit statsFailed(msg);
    });
}

MainWindow::~MainWindow() = default;

bool MainWindow::isOpening() const { return m_loader->isBusy(); }
bool MainWindow::isProgressBarTaken() const { return m_stats->isBusy() || m_loader->isBusy(); }

ConfigInspector* MainWindow::inspector() const { return m_compression->inspector(); }
PreviewForm* MainWindow::previewForm() const { return m_compression->previewForm(); }
ModelEstimator* MainWindow::estimator() const { return m_compression->estimator(); }
PreviewRunner* MainWindow::previewRunner() const { return m_compression->previewRunner(); }
CompressionChart* MainWindow::compressionChart() const { return m_compression->compressionChart(); }
BlockBytesChart* MainWindow::blockChart() const { return m_compression->blockChart(); }
void MainWindow::applyPreset(bonsai::Preset preset) { m_compression->applyPreset(preset); }
bool MainWindow::applyToMatching(const QString& regex) { return m_compression->applyToMatching(regex); }
bool MainWindow::applyRecipeFile(const QString& path) { return m_recipes->applyRecipeFile(path); }
bool MainWindow::saveRecipeTo(const QString& path) { return m_recipes->saveRecipeTo(path); }
EvalPanel* MainWindow::evalPanel() const { return m_evaluation->panel(); }
RecoverPanel* MainWindow::recoverPanel() const { return m_recovery->panel(); }
PerplexityPanel* MainWindow::perplexityPanel() const { return m_perplexity->panel(); }
QDockWidget* MainWindow::perplexityDock() const { return m_perplexity->dock(); }
void MainWindow::showPerplexityDock() { m_perplexity->showDock(); }
SearchPanel* MainWindow::searchPanel() const { return m_search->panel(); }
QDockWidget* MainWindow::searchDock() const { return m_search->dock(); }
void MainWindow::showSearchDock() { m_search->showDock(); }
SpeedPanel* MainWindow::speedPanel() const { return m_speed->panel(); }
QDockWidget* MainWindow::speedDock() const { return m_speed->dock(); }
void MainWindow::showSpeedDock() { m_speed->showDock(); }

void MainWindow::reportError(const QString& title, const QString& message)
{
    m_lastError = message;
    statusBar()->showMessage(message, 10000);
    if (!m_errorDialogs)
        return;
    auto* box = new QMessageBox(QMessageBox::Warning, title, title, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("recipeErrorBox"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

QDockWidget* MainWindow::addPanelDock(const QString& title, const QString& objectName, QWidget* panel,
                                      QDockWidget* tabWith)
{
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(panel);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                      QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    if (tabWith)
        tabifyDockWidget(tabWith, dock);
    dock->setVisible(false);
    return dock;
}

void MainWindow::openPath(const QString& path)
{
    if (path.isEmpty() || !m_recipes->maybeDiscardChanges())
        return;
    setBusy(tr("Opening %1…").arg(QFileInfo(path).fileName()));
    m_loader->open(path);
}

void MainWindow::setBusy(const QString& message)
{
    m_empty->setBusy(message);
    if (message.isEmpty()) {
        m_progress->setVisible(false);
        statusBar()->clearMessage();
        return;
    }
    m_progress->setRange(0, 0); // busy indicator
    m_progress->setFormat(QString());
    m_progress->setVisible(true);
    statusBar()->showMessage(message);
}

void MainWindow::onLoaded(std::shared_ptr<const bonsai::Model> model, const QString& path)
{
    setBusy(QString());
    m_model = std::move(model);
    m_currentTensor = -1;
    m_stats->setModel(m_model);
    m_details->clear();
    m_compression->setModel(m_model);
    m_doc->setModel(m_model); // before the table, whose columns show the configuration
    m_table->setModel(m_model);
    m_summary->setModel(m_model);
    m_central->setCurrentWidget(m_mainSplitter);
    m_compression->modelShown();
    m_modelFile = QFileInfo(path).fileName();
    updateTitle();
    setWindowFilePath(path);
    m_modelInfo->setText(tr("%1 layers · %2 parameters · %3")
                             .arg(formatCount(m_model->layers.size()),
                                  formatCount(m_model->totalParams()),
                                  formatBytes(m_model->totalBytes())));
    if (m_recent)
        m_recent->add(path);
    statusBar()->showMessage(tr("Opened %1").arg(path), 5000);
    emit modelOpened(path);
    selectLargestLayer();
}

void MainWindow::onLoadFailed(const QString& path, const QString& message)
{
    setBusy(QString());
    m_lastError = message;
    statusBar()->showMessage(tr("Could not open %1").arg(path), 10000);
    emit openFailed(message);
    if (!m_errorDialogs)
        return;
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Could not open model"),
                                tr("Could not open %1.").arg(QFileInfo(path).fileName()),
                                QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("openErrorBox"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open(); // window-modal, does not block the event loop
}

bool MainWindow::selectLargestLayer() { return m_table->selectLargest(); }

QString MainWindow::describeTensor(int tensor) const
{
    if (!m_model || tensor < 0 || static_cast<size_t>(tensor) >= m_model->tensors.size())
        return {};
    const auto& t = m_model->tensors[static_cast<size_t>(tensor)];
    return tr("weight %1 · %2 · %3 parameters · %4")
        .arg(formatShape(t.shape), qstr(t.storedType()), formatCount(t.numel), formatBytes(t.storedBytes()));
}

void MainWindow::onCurrentTensorChanged(int tensor, int channelAxis, const QString& label)
{
    if (tensor == m_currentTensor)
        return;
    m_currentTensor = tensor;
    m_details->showPending(label, describeTensor(tensor));
    m_stats->request(tensor, channelAxis, label);
}

void MainWindow::showProgress(const QString& label, double fraction)
{
    m_progress->setRange(0, 1000);
    m_progress->setValue(static_cast<int>(fraction * 1000));
    m_progress->setFormat(tr("%1: %p%").arg(elideMiddle(label, 28)));
    m_progress->setToolTip(tr("Computing statistics for %1").arg(label));
    m_progress->setVisible(true);
}

void MainWindow::onStatsFinished(const StatsResult& result)
{
    if (result.tensor != m_currentTensor)
        return;
    if (!m_loader->isBusy())
        m_progress->setVisible(false);
    m_details->setStats(result, describeTensor(result.tensor));
    emit statsShown(result.tensor);
}

void MainWindow::restoreSettings()
{
    QSettings s;
    restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    m_mainSplitter->restoreState(s.value(QStringLiteral("window/mainSplitter")).toByteArray());
    m_leftSplitter->restoreState(s.value(QStringLiteral("window/leftSplitter")).toByteArray());
    m_windowLayout->restore();
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

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!m_recipes->maybeDiscardChanges()) {
        event->ignore();
        return;
    }
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("window/mainSplitter"), m_mainSplitter->saveState());
    s.setValue(QStringLiteral("window/leftSplitter"), m_leftSplitter->saveState());
    m_windowLayout->save();
    m_stats->cancel();
    QMainWindow::closeEvent(event);
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
    m_recipes->addActions(file);
    file->addSeparator();
    m_export->addActions(file);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    m_compression->addMenus(menuBar());

    // The Evaluate menu, before Help: each feature adds its actions.
    auto* evaluate = new QMenu(tr("E&valuate"), this);
    m_evaluation->addActions(evaluate);
    m_recovery->addActions(evaluate);
    m_perplexity->addActions(evaluate);
    m_search->addActions(evaluate);
    m_speed->addActions(evaluate);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* start = help->addAction(tr("&Quick Start"), this, [this] { showQuickStart(this); });
    start->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&Keyboard Shortcuts"), this, [this] { showShortcuts(this, menuBar()); });
    help->addSeparator();
    help->addAction(tr("&About Bonsai"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
    menuBar()->insertMenu(help->menuAction(), evaluate);
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
