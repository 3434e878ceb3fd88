// EvalPanel: layout, settings and export. The jobs and results are in evalpanelrun.cpp.
#include "evalpanel.h"

#include "compressiondocument.h"
#include "panelutil.h"
#include "bonsai/model.h"
#include "evalcharts.h"
#include "evalengine.h"
#include "evalexport.h"
#include "jobrunner.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QToolButton>

namespace bonsai::ui {

EvalPanel::EvalPanel(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_runner(new JobRunner(this)), m_tradeoffs(new TradeoffModel(this))
{
    setObjectName(QStringLiteral("evalPanel"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(buildSettings());
    layout->addWidget(buildResults(), 1);
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(DebounceMs);
    connect(&m_debounce, &QTimer::timeout, this, &EvalPanel::evaluate);
    connect(m_doc, &CompressionDocument::modelReset, this, &EvalPanel::onModelReset);
    connect(m_doc, &CompressionDocument::configChanged, this, [this] {
        m_tradeoffs->setCurrentConfigs(m_doc->configs());
        if (m_auto->isChecked() && m_ready)
            m_debounce.start();
    });
    connectJobs();
    m_path->setText(defaultEvalDataset());
    onModelReset();
}

EvalPanel::~EvalPanel()
{
    // ~QWidget closes the window, and the editors' focus-out then emits editingFinished:
    // by then this object is only a QWidget, so the connections must go first.
    disconnect(m_path, nullptr, this, nullptr);
    disconnect(m_limit, nullptr, this, nullptr);
    disconnect(m_split, nullptr, this, nullptr);
    disconnect(m_runner, nullptr, this, nullptr);
    m_runner->cancel();
    m_runner->waitForIdle();
}

QWidget* EvalPanel::buildSettings()
{
    auto* box = new QWidget(this);
    box->setMaximumWidth(380);
    auto* form = new QFormLayout(box);
    // In a narrow side dock a field goes below its label rather than widening the dock.
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    form->setContentsMargins(0, 0, 0, 0);
    m_path = new QLineEdit(box);
    m_path->setPlaceholderText(tr("IDX, .npz, .npy file or image folder"));
    m_path->setToolTip(tr("The labelled data set to evaluate on. Fashion-MNIST (Debian's "
                          "dataset-fashion-mnist) is used when installed."));
    auto* browseButton = new QToolButton(box);
    browseButton->setText(tr("Browse…"));
    browseButton->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(browseButton);
    menu->addAction(tr("Data file…"), this, [this] { browse(false); });
    menu->addAction(tr("Folder (MNIST files or one subfolder per class)…"), this, [this] { browse(true); });
    browseButton->setMenu(menu);
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browseButton);
    form->addRow(tr("Data set:"), pathRow);
    m_split = new QComboBox(box);
    m_split->addItem(tr("test"), QStringLiteral("test"));
    m_split->addItem(tr("train"), QStringLiteral("train"));
    m_split->setToolTip(tr("For a folder with MNIST-style files: t10k-* (test) or train-*"));
    m_limit = new QSpinBox(box);
    m_limit->setRange(0, 100000000);
    m_limit->setSingleStep(1000);
    m_limit->setSpecialValueText(tr("all samples"));
    m_limit->setSuffix(tr(" samples"));
    m_limit->setToolTip(tr("Evaluate only the first N samples (faster, wider confidence interval)"));
    auto* splitRow = new QHBoxLayout;
    splitRow->addWidget(m_split);
    splitRow->addWidget(new QLabel(tr("Limit:"), box));
    splitRow->addWidget(m_limit, 1);
    form->addRow(tr("Split:"), splitRow);
    m_preprocess = new QLabel(tr("—"), box);
    m_preprocess->setWordWrap(true);
    m_preprocess->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_preprocess->setToolTip(tr("value = (stored × scale − mean) / std, in the model's input layout"));
    form->addRow(tr("Preprocessing:"), m_preprocess);

    m_evaluate = new QPushButton(tr("Evaluate"), box);
    m_evaluate->setToolTip(tr("Run the model, compressed as configured, over the data set"));
    m_cancel = new QPushButton(tr("Cancel"), box);
    m_auto = new QCheckBox(tr("Auto-evaluate"), box);
    m_auto->setToolTip(tr("Evaluate again half a second after every configuration change"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_evaluate);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_auto);
    buttons->addStretch();
    form->addRow(buttons);
    m_progress = new QProgressBar(box);
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(true);
    form->addRow(m_progress);
    m_message = makeMessageLabel(box);
    form->addRow(m_message);

    for (QLabel** l : {&m_top1, &m_top5, &m_agreement, &m_kl, &m_size, &m_time}) {
        *l = new QLabel(tr("—"), box);
        (*l)->setTextInteractionFlags(Qt::TextSelectableByMouse);
    }
    form->addRow(tr("Top-1:"), m_top1);
    form->addRow(tr("Top-5:"), m_top5);
    form->addRow(tr("Agreement:"), m_agreement);
    m_agreement->setToolTip(tr("Samples whose top class is the uncompressed model's top class"));
    form->addRow(tr("KL:"), m_kl);
    m_kl->setToolTip(tr("Mean KL divergence from the uncompressed model's output distribution"));
    form->addRow(tr("Size:"), m_size);
    form->addRow(tr("Time:"), m_time);

    connect(m_evaluate, &QPushButton::clicked, this, &EvalPanel::evaluate);
    connect(m_cancel, &QPushButton::clicked, this, &EvalPanel::cancel);
    m_cancel->setEnabled(false);
    connect(m_auto, &QCheckBox::toggled, this, &EvalPanel::autoEvaluateChanged);
    connect(m_path, &QLineEdit::editingFinished, this, &EvalPanel::onSettingsEdited);
    connect(m_split, &QComboBox::currentIndexChanged, this, &EvalPanel::onSettingsEdited);
    connect(m_limit, &QSpinBox::editingFinished, this, &EvalPanel::onSettingsEdited);
    return box;
}

QWidget* EvalPanel::buildResults()
{
    m_tabs = new QTabWidget(this);
    m_tradeoffChart = new TradeoffChart(m_tradeoffs, m_tabs);
    m_running = new RunningAccuracyChart(m_tabs);
    m_layerErrors = new LayerErrorChart(m_tabs);
    m_table = new QTableView(m_tabs);
    auto* proxy = new QSortFilterProxyModel(m_table);
    proxy->setSourceModel(m_tradeoffs);
    proxy->setSortRole(TradeoffModel::SortRole);
    m_table->setModel(proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(TradeoffModel::LabelColumn, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setToolTip(tr("Double-click a row to restore its configuration"));
    connect(m_table, &QTableView::doubleClicked, this,
            [this, proxy](const QModelIndex& i) { restore(proxy->mapToSource(i).row()); });
    m_tabs->addTab(m_tradeoffChart, tr("Accuracy trade-off"));
    m_tabs->addTab(m_running, tr("Running accuracy"));
    m_tabs->addTab(m_layerErrors, tr("Layer error"));
    m_tabs->addTab(m_table, tr("Table"));
    auto* save = new QToolButton(m_tabs);
    save->setText(tr("Save…"));
    save->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(save);
    menu->addAction(tr("Save Chart as PNG or SVG…"), this, [this] { saveDialog(false); });
    menu->addAction(tr("Export Table as CSV…"), this, [this] { saveDialog(true); });
    save->setMenu(menu);
    m_tabs->setCornerWidget(save);
    connect(m_tradeoffChart, &TradeoffChart::restoreRequested, this, &EvalPanel::restore);
    // While a language model is open the shared trade-off table holds perplexities.
    connect(m_tradeoffs, &QAbstractItemModel::modelReset, this, [this] {
        m_tabs->setTabText(TradeoffTab, m_tradeoffs->metric() == TradeoffMetric::Perplexity
                                            ? tr("Perplexity trade-off")
                                            : tr("Accuracy trade-off"));
    });
    return m_tabs;
}

EvalSettings EvalPanel::settings() const
{
    EvalSettings s;
    s.dataset = m_path->text().trimmed();
    s.split = m_split->currentData().toString();
    s.limit = m_limit->value();
    return s;
}

QString EvalPanel::dataset() const { return m_path->text(); }
void EvalPanel::setDataset(const QString& path) { m_path->setText(path); onSettingsEdited(); }
void EvalPanel::setSplit(const QString& split) { m_split->setCurrentIndex(m_split->findData(split)); }
void EvalPanel::setLimit(qint64 samples) { m_limit->setValue(int(samples)); onSettingsEdited(); }
void EvalPanel::setAutoEvaluate(bool on) { m_auto->setChecked(on); }
bool EvalPanel::autoEvaluate() const { return m_auto->isChecked(); }
QString EvalPanel::message() const { return m_message->text(); }
QString EvalPanel::top1Text() const { return m_top1->text(); }
QString EvalPanel::preprocessingText() const { return m_preprocess->text(); }
void EvalPanel::showTab(Chart tab) { m_tabs->setCurrentIndex(int(tab)); }

bool EvalPanel::saveChart(Chart chart, const QString& path, QString* error)
{
    QChartView* views[] = {m_tradeoffChart, m_running, m_layerErrors};
    if (chart == TableTab)
        return saveCsv(path, error);
    return saveChartImage(views[int(chart)], path, error);
}

bool EvalPanel::saveCsv(const QString& path, QString* error) { return m_tradeoffs->saveCsv(path, error); }

void EvalPanel::browse(bool folder)
{
    const QString start = m_path->text();
    const QString path = folder ? QFileDialog::getExistingDirectory(this, tr("Data Set Folder"), start)
                                : QFileDialog::getOpenFileName(this, tr("Data Set"), start,
                                                               tr("Data sets (*-ubyte *.gz *.idx* *.npz *.npy);;All files (*)"));
    if (!path.isEmpty())
        setDataset(path);
}

void EvalPanel::saveDialog(bool csv)
{
    const auto tab = Chart(m_tabs->currentIndex());
    const bool table = csv || tab == TableTab;
    const QString path = QFileDialog::getSaveFileName(
        this, table ? tr("Export Trade-off Table") : tr("Save Chart"),
        suggestedSavePath(m_doc->model() ? QString::fromStdString(m_doc->model()->path) : QString(),
                          table ? QStringLiteral("-tradeoffs.csv") : QStringLiteral("-chart.svg")),
        table ? tr("CSV (*.csv)") : tr("SVG (*.svg);;PNG (*.png)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!(table ? saveCsv(path, &error) : saveChart(tab, path, &error)))
        QMessageBox::warning(this, tr("Save"), error);
}

} // namespace bonsai::ui
