#include "searchpanel.h"

#include "budgetsearch.h"
#include "compressiondocument.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"
#include "searchbudgetbar.h"
#include "searchmap.h"
#include "sensitivitydelegate.h"
#include "sensitivitymodel.h"
#include "sensitivityrunner.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

namespace {

bool isLlm(const CompressionDocument* doc) { return doc->model() && bonsai::isLanguageModel(*doc->model()); }

} // namespace

SearchPanel::SearchPanel(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_search(new BudgetSearch(doc, this)), m_model(new SensitivityModel(m_search, this)),
      m_runner(new SensitivityRunner(this))
{
    setObjectName(QStringLiteral("searchPanel"));
    auto* layout = new QHBoxLayout(this); // settings beside the map (a side dock: above it)
    layout->addWidget(buildSettings());
    auto* column = new QWidget(this);
    auto* v = new QVBoxLayout(column);
    v->setContentsMargins(0, 0, 0, 0);
    m_budget = new SearchBudgetBar(m_search, column);
    m_map = new SearchMap(m_search, m_model, column);
    v->addWidget(m_budget);
    v->addWidget(m_map, 1);
    layout->addWidget(column, 1);

    connect(m_doc, &CompressionDocument::modelReset, this, &SearchPanel::onModelReset);
    connect(m_map, &SearchMap::mapReset, this, &SearchPanel::updateEmptyState);
    connect(m_search, &BudgetSearch::tiesChanged, this, &SearchPanel::showTies);
    connect(m_model, &SensitivityModel::scaleChanged, m_legend, &SensitivityLegend::setScale);
    connectCurrentJob(m_runner->runner(), this, m_jobId,
                      {.progress = [this](double f, double eta) {
                           showJobProgress(m_progress, m_stage.isEmpty() ? tr("Measuring") : m_stage, f, eta);
                       },
                       .failed = [this](const QString& msg) {
                           setRunning(false);
                           clearJobProgress(m_progress);
                           showMessage(msg, true);
                           emit measureFailed(msg);
                       },
                       .cancelled = [this] {
                           setRunning(false);
                           clearJobProgress(m_progress);
                           const auto* t = m_search->table();
                           showMessage(t ? tr("Cancelled after %1 of %2 cells; the cells measured are cached, so "
                                              "Measure goes on from there.")
                                               .arg(formatCount(t->measuredCells()), formatCount(t->applicableCells()))
                                         : tr("Cancelled."),
                                       false);
                           emit measureCancelled();
                       }});
    onModelReset();
}

SearchPanel::~SearchPanel()
{
    disconnect(m_runner->runner(), nullptr, this, nullptr);
    m_runner->cancel();
    m_runner->runner()->waitForIdle();
}

QWidget* SearchPanel::buildSettings()
{
    auto* settings = new QWidget(this);
    settings->setMaximumWidth(400);
    auto* form = new QFormLayout(settings);
    form->setContentsMargins(0, 0, 0, 0);

    m_dataLabel = new QLabel(settings);
    m_dataLabel->setObjectName(QStringLiteral("searchData"));
    m_dataLabel->setWordWrap(true);
    form->addRow(tr("Data:"), m_dataLabel);

    m_samples = new QSpinBox(settings);
    m_samples->setRange(0, 1000000);
    m_samples->setSpecialValueText(tr("default"));
    m_samples->setMaximumWidth(150);
    m_samples->setToolTip(tr("Calibration samples each cell is measured on: the first N images (default 1,000) "
                             "or text chunks (default 16). Fewer is faster and noisier."));
    m_target = new QComboBox(settings);
    m_target->addItem(tr("Bonsai (any)"), QString());
    m_target->addItem(tr("GGUF (llama.cpp)"), QStringLiteral("gguf"));
    m_target->addItem(tr("ONNX"), QStringLiteral("onnx"));
    m_target->addItem(tr("safetensors (packed)"), QStringLiteral("safetensors-packed"));
    m_target->setToolTip(tr("The format the result is exported to: candidates it cannot store are left out."));
    connect(m_target, &QComboBox::currentIndexChanged, this,
            [this] { rebuildCandidateMenu(bonsai::defaultCandidates(m_target->currentData().toString().toStdString())); });
    auto* sampleRow = new QHBoxLayout;
    sampleRow->addWidget(m_samples, 1);
    sampleRow->addWidget(new QLabel(tr("for"), settings));
    sampleRow->addWidget(m_target, 1);
    form->addRow(tr("Samples:"), sampleRow);

    m_candidateButton = new QToolButton(settings);
    m_candidateButton->setObjectName(QStringLiteral("searchCandidates"));
    m_candidateButton->setPopupMode(QToolButton::InstantPopup);
    m_candidateButton->setToolTip(tr("The configurations each layer may get (precision, sparsity, rank); "
                                     "uncheck those you do not want considered."));
    m_candidateMenu = new QMenu(m_candidateButton);
    m_candidateButton->setMenu(m_candidateMenu);
    // Tied groups beside the candidates: one row less in a low dock.
    auto* ties = new QHBoxLayout;
    ties->addWidget(m_candidateButton);
    ties->addSpacing(12);
    ties->addWidget(new QLabel(tr("Tied:"), settings));
    for (auto [key, label] : {std::pair{"qkv", tr("q/k/v")}, std::pair{"gate_up", tr("gate/up")}}) {
        auto* box = new QCheckBox(label, settings);
        box->setObjectName(QStringLiteral("searchTie_") + QLatin1String(key));
        box->setProperty("tie", QString::fromLatin1(key));
        connect(box, &QCheckBox::toggled, this, [this] { m_search->setTies(checkedTies()); });
        ties->addWidget(box);
        m_ties.push_back(box);
    }
    ties->addStretch(1);
    form->addRow(tr("Candidates:"), ties);

    m_measure = new QPushButton(tr("Measure"), settings);
    m_measure->setObjectName(QStringLiteral("searchMeasure"));
    m_measure->setToolTip(tr("Measure how much the model's outputs change (KL divergence) when each layer alone "
                             "gets each candidate. Cached: a second run reuses what was measured."));
    m_cancel = new QPushButton(tr("Cancel"), settings);
    m_cancel->setObjectName(QStringLiteral("searchCancel"));
    m_cancel->setToolTip(tr("Stop measuring; the cells measured so far are kept in the cache."));
    m_cancel->setEnabled(false);
    m_progress = makeJobProgressBar(tr("Progress of the measurement"), settings);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_measure);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);
    form->addRow(buttons);
    connect(m_measure, &QPushButton::clicked, this, &SearchPanel::measure);
    connect(m_cancel, &QPushButton::clicked, this, &SearchPanel::cancel);
    m_message = makeMessageLabel(settings);
    form->addRow(m_message);
    m_legend = new SensitivityLegend(settings);
    form->addRow(m_legend);

    rebuildCandidateMenu(bonsai::defaultCandidates());
    return settings;
}

int SearchPanel::compactHeight() const
{
    const int line = fontMetrics().lineSpacing();
    const QWidget* settings = m_legend->parentWidget();
    // The status line may wrap to two lines once measured ("… (71 from the cache)").
    const int settingsHeight = settings->minimumSizeHint().height() +
                               std::max(0, 2 * line - m_message->minimumSizeHint().height());
    constexpr int MapRows = 3;
    const int mapHeight = m_budget->compactHeight() + m_map->compactHeight(MapRows) +
                          std::max(0, m_budget->parentWidget()->layout()->spacing());
    const QMargins margins = layout()->contentsMargins();
    return std::max(settingsHeight, mapHeight) + margins.top() + margins.bottom();
}

void SearchPanel::setDataSource(DataSource source)
{
    m_source = std::move(source);
    refreshData();
}

void SearchPanel::refreshData()
{
    const DataChoice before = m_data;
    m_data = m_source ? m_source() : DataChoice{};
    const bool llm = isLlm(m_doc);
    if (m_data.dock.isEmpty())
        m_data.dock = llm ? tr("Perplexity") : tr("Evaluation");
    if (m_data.path.isEmpty()) {
        m_dataLabel->setText(tr("none chosen (the %1 dock's)").arg(m_data.dock));
        m_dataLabel->setToolTip({});
    } else {
        m_dataLabel->setText(tr("%1 (the %2 dock's)").arg(elideMiddle(QFileInfo(m_data.path).fileName(), 32), m_data.dock));
        m_dataLabel->setToolTip(m_data.path);
    }
    m_measure->setEnabled(canMeasure() && !isBusy());
    if (before.path != m_data.path)
        emit readyChanged(canMeasure());
    updateEmptyState();
}

void SearchPanel::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    refreshData();
}

void SearchPanel::setSamples(qint64 samples) { m_samples->setValue(int(std::min<qint64>(samples, m_samples->maximum()))); }

void SearchPanel::setTarget(const QString& target)
{
    const int i = m_target->findData(target);
    if (i >= 0)
        m_target->setCurrentIndex(i);
}

void SearchPanel::setCacheDir(const QString& dir) { m_cacheDir = dir; }

void SearchPanel::rebuildCandidateMenu(const std::vector<bonsai::SearchCandidate>& all)
{
    m_candidateMenu->clear();
    for (const auto& c : all) {
        QAction* a = m_candidateMenu->addAction(qstr(c.name));
        a->setCheckable(true);
        a->setChecked(true);
        a->setData(qstr(c.patch.toJson()));
        a->setToolTip(qstr(c.patch.toJson()));
        connect(a, &QAction::toggled, this, &SearchPanel::updateCandidateButton);
    }
    m_candidateMenu->setToolTipsVisible(true);
    updateCandidateButton();
}

void SearchPanel::setCandidates(const std::vector<bonsai::SearchCandidate>& candidates)
{
    rebuildCandidateMenu(candidates);
}

std::vector<bonsai::SearchCandidate> SearchPanel::candidates() const
{
    std::vector<bonsai::SearchCandidate> out;
    for (QAction* a : m_candidateMenu->actions()) {
        if (!a->isChecked())
            continue;
        bonsai::SearchCandidate c;
        c.name = a->text().toStdString();
        c.patch = bonsai::ConfigPatch::fromJson(a->data().toString().toStdString(), "candidates", c.name);
        out.push_back(std::move(c));
    }
    return out;
}

void SearchPanel::updateCandidateButton()
{
    const auto actions = m_candidateMenu->actions();
    const auto checked = std::count_if(actions.begin(), actions.end(), [](QAction* a) { return a->isChecked(); });
    m_candidateButton->setText(tr("%1 of %2 ▾").arg(checked).arg(actions.size()));
}

bool SearchPanel::canMeasure() const { return m_doc->model() && !m_data.path.isEmpty(); }

bool SearchPanel::isBusy() const { return m_runner->isBusy(); }

void SearchPanel::setRunning(bool running)
{
    m_measure->setEnabled(!running && canMeasure());
    m_cancel->setEnabled(running);
    emit runningChanged(running);
}

void SearchPanel::showMessage(const QString& text, bool error) { showPanelMessage(m_message, text, error); }

QString SearchPanel::message() const { return m_message->text(); }

void SearchPanel::measure()
{
    refreshData();
    if (!m_doc->model()) {
        showMessage(tr("Open a model first."), true);
        return;
    }
    if (m_data.path.isEmpty()) {
        showMessage(emptyText(), true);
        return;
    }
    SensitivityRequest request;
    request.model = m_doc->model();
    try {
        request.spec.candidates = candidates();
    } catch (const std::exception& e) {
        showMessage(errorText(e), true);
        return;
    }
    if (request.spec.candidates.empty()) {
        showMessage(tr("Check at least one candidate."), true);
        return;
    }
    request.options.dataPath = m_data.path.toStdString();
    request.options.samples = m_samples->value();
    request.options.target = m_target->currentData().toString().toStdString();
    request.options.cacheDir = m_cacheDir.toStdString();
    request.options.measureLatency = true; // for a latency budget (cached like the cells)
    m_stage.clear();
    showMessage(tr("Estimating every cell, then measuring them one by one…"), false);
    m_jobId = m_runner->start(
        request, this, [this](const SensitivitySnapshot& s) { onSnapshot(s); },
        [this](const SensitivitySnapshot& s) { onDone(s); });
    setRunning(true);
    showJobProgress(m_progress, tr("Estimating"), 0, -1);
}

void SearchPanel::cancel()
{
    if (isBusy())
        m_runner->cancel();
}

void SearchPanel::onSnapshot(const SensitivitySnapshot& s)
{
    const auto& p = s.progress;
    m_stage = qstr(p.stage);
    if (!m_stage.isEmpty())
        m_stage[0] = m_stage[0].toUpper();
    if (!s.table) {
        showMessage(tr("%1…").arg(m_stage), false);
        return;
    }
    m_search->setTable(s.table, false);
    QString text = tr("%1 of %2 cells measured").arg(formatCount(p.cellsDone), formatCount(p.cellsTotal));
    if (p.fromCache)
        text += tr(", %1 from the cache").arg(formatCount(p.fromCache));
    showMessage(text + tr(". Hatched cells are still estimates."), false);
    if (!m_budget->isBudgetChosen() || m_budget->isRangeEmpty())
        m_budget->updateRange();
}

void SearchPanel::onDone(const SensitivitySnapshot& s)
{
    setRunning(false);
    showJobDone(m_progress, 0);
    m_progress->setFormat(tr("Done"));
    showTable(s.table);
    const auto& p = s.progress;
    const auto* t = m_search->table();
    const QString samples = m_samples->value() > 0 ? formatCount(uint64_t(m_samples->value()))
                                                   : (t->languageModel ? tr("16") : tr("1,000"));
    QString text = tr("%1 cells measured on %2 %3 of %4")
                       .arg(formatCount(t->measuredCells()), samples,
                            t->languageModel ? tr("text chunks") : tr("samples"), QFileInfo(m_data.path).fileName());
    text += p.fromCache ? tr(" (%1 from the cache).").arg(formatCount(p.fromCache)) : QStringLiteral(".");
    showMessage(text, false);
    emit measured();
}

void SearchPanel::showTable(std::shared_ptr<const bonsai::SensitivityTable> table)
{
    m_search->setTable(std::move(table), true);
    m_budget->updateRange();
    m_search->solve(); // the budget shown, as one undo step
    m_map->view()->resizeColumnToContents(SensitivityModel::ChoiceColumn);
}

QString SearchPanel::emptyText() const
{
    if (!m_doc->model())
        return tr("Open a model, choose its data, then press Measure to see how much each layer suffers under each "
                  "candidate.");
    if (m_data.path.isEmpty())
        return isLlm(m_doc) ? tr("Choose a text in the Perplexity dock, then press Measure.")
                            : tr("Choose a data set in the Evaluation dock, then press Measure.");
    return tr("Press Measure: each layer is tried with each candidate on %1; the map then shows what each choice "
              "costs in quality and size, and the budget picks the best mix.")
        .arg(QFileInfo(m_data.path).fileName());
}

bool SearchPanel::isMapShown() const { return m_map->isMapShown(); }

void SearchPanel::updateEmptyState()
{
    const bool map = m_search->table() != nullptr;
    m_map->showState(emptyText());
    m_legend->setVisible(map);
    m_budget->setEnabled(map);
}

void SearchPanel::onModelReset()
{
    cancel();
    m_jobId = 0;
    setRunning(false);
    clearJobProgress(m_progress);
    showMessage(QString(), false);
    const bool llm = isLlm(m_doc);
    m_budget->reset(llm);
    m_samples->setSpecialValueText(llm ? tr("default (16 chunks)") : tr("default (1,000)"));
    m_search->setTiesQuiet(llm ? std::vector<std::string>{"qkv", "gate_up"} : std::vector<std::string>{});
    showTies();
    refreshData();
    m_map->updateDetail();
}

std::vector<std::string> SearchPanel::checkedTies() const
{
    std::vector<std::string> out;
    for (QCheckBox* box : m_ties)
        if (box->isChecked())
            out.push_back(box->property("tie").toString().toStdString());
    return out;
}

void SearchPanel::showTies()
{
    const auto& ties = m_search->ties();
    const bool llm = isLlm(m_doc);
    for (QCheckBox* box : m_ties) {
        const QSignalBlocker block(box);
        box->setChecked(std::find(ties.begin(), ties.end(), box->property("tie").toString().toStdString()) != ties.end());
        box->setEnabled(llm);
        box->setToolTip(llm ? tr("The layers of each block's group get one candidate, as fused runtimes need.")
                            : tr("Only language models have q/k/v and gate/up projections to tie."));
    }
}

void SearchPanel::setTies(const std::vector<std::string>& ties) { m_search->setTies(ties); }

// The budget and the map are their own widgets.

bonsai::BudgetKind SearchPanel::budgetKind() const { return m_budget->kind(); }
void SearchPanel::setBudgetKind(bonsai::BudgetKind kind) { m_budget->setKind(kind); }
void SearchPanel::setObjective(bonsai::SearchObjective objective) { m_budget->setObjective(objective); }
double SearchPanel::budgetValue() const { return m_budget->value(); }
void SearchPanel::setBudgetValue(double value) { m_budget->setValue(value); }
void SearchPanel::setSliderPosition(int position) { m_budget->setSliderPosition(position); }
QString SearchPanel::solutionText() const { return m_budget->solutionText(); }
QTableView* SearchPanel::view() const { return m_map->view(); }
void SearchPanel::activateCell(const QModelIndex& index) { m_map->activateCell(index); }
QString SearchPanel::detailText() const { return m_map->detailText(); }

} // namespace bonsai::ui
