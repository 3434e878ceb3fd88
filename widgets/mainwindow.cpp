#include "mainwindow.h"

#include "blockbyteschart.h"
#include "byteschart.h"
#include "compressiondocument.h"
#include "emptystate.h"
#include "formatting.h"
#include "layerdetailsview.h"
#include "layertableview.h"
#include "modelloader.h"
#include "previewrunner.h"
#include "recentfiles.h"
#include "statsrunner.h"
#include "summarypanel.h"
#include "windowlayout.h"

#include "bonsai/model.h"

#include <QCloseEvent>
#include <QDockWidget>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>

namespace bonsai::ui {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_loader(new ModelLoader(this)), m_stats(new StatsRunner(this)),
      m_central(new QStackedWidget(this)), m_empty(new EmptyState(this)),
      m_mainSplitter(new QSplitter(Qt::Horizontal, this)),
      m_leftSplitter(new QSplitter(Qt::Vertical, this)), m_table(new LayerTableView(this)),
      m_summary(new SummaryPanel(this)), m_details(new LayerDetailsView(this)),
      m_progress(new QProgressBar(this)), m_modelInfo(new QLabel(this))
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

    setupCompression();
    createMenus();
    setupEvaluation();
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

void MainWindow::openPath(const QString& path)
{
    if (path.isEmpty() || !maybeDiscardChanges())
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
    m_previewRunner->setModel(m_model);
    m_doc->setModel(m_model); // before the table, whose columns show the configuration
    m_table->setModel(m_model);
    m_summary->setModel(m_model);
    // Language models open on the chart of their blocks, other models on the compression chart.
    const int blocksTab = m_summary->bytesChart()->indexOf(m_blockChart);
    m_summary->bytesChart()->setTabVisible(blocksTab, m_blockChart->hasData());
    m_summary->bytesChart()->setCurrentIndex(m_blockChart->hasData() ? blocksTab : blocksTab + 1);
    m_central->setCurrentWidget(m_mainSplitter);
    m_inspectorDock->setVisible(true);
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
        .arg(formatShape(t.shape), qstr(dtypeName(t.dtype)), formatCount(t.numel), formatBytes(t.nbytes));
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

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!maybeDiscardChanges()) {
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

} // namespace bonsai::ui
