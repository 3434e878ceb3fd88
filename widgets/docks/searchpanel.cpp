#include "searchpanel.h"

#include "budgetsearch.h"
#include "compressiondocument.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"
#include "sensitivitydelegate.h"
#include "sensitivitymodel.h"
#include "sensitivityrunner.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSlider>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

namespace {

constexpr double DefaultBitsPerWeight = 4.0;

bool isLlm(const CompressionDocument* doc) { return doc->model() && bonsai::isLanguageModel(*doc->model()); }

QString signedText(double v, int decimals)
{
    return (v >= 0 ? QStringLiteral("+") : QStringLiteral("−")) + QString::number(std::abs(v), 'f', decimals);
}

} // namespace

SearchPanel::SearchPanel(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_search(new BudgetSearch(doc, this)), m_model(new SensitivityModel(m_search, this)),
      m_runner(new SensitivityRunner(this))
{
    setObjectName(QStringLiteral("searchPanel"));
    auto* layout = new QHBoxLayout(this); // settings beside the map (a side dock: above it)
    layout->addWidget(buildSettings());
    layout->addWidget(buildMap(), 1);

    connect(m_doc, &CompressionDocument::modelReset, this, &SearchPanel::onModelReset);
    connect(m_search, &BudgetSearch::solved, this, &SearchPanel::onSolved);
    connect(m_search, &BudgetSearch::choicesChanged, this, &SearchPanel::updateDetail);
    connect(m_search, &BudgetSearch::pinsChanged, this, &SearchPanel::updateDetail);
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
    form->addRow(tr("Candidates:"), m_candidateButton);

    auto* ties = new QHBoxLayout;
    for (auto [key, label] : {std::pair{"qkv", tr("q/k/v")}, std::pair{"gate_up", tr("gate/up")}}) {
        auto* box = new QCheckBox(label, settings);
        box->setObjectName(QStringLiteral("searchTie_") + QLatin1String(key));
        box->setProperty("tie", QString::fromLatin1(key));
        connect(box, &QCheckBox::toggled, this, [this] { m_search->setTies(checkedTies()); });
        ties->addWidget(box);
        m_ties.push_back(box);
    }
    ties->addStretch(1);
    form->addRow(tr("Tied:"), ties);

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

QWidget* SearchPanel::buildMap()
{
    auto* box = new QWidget(this);
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    m_kind = new QComboBox(box);
    m_kind->setObjectName(QStringLiteral("searchBudgetKind"));
    m_kind->addItem(tr("Size"), int(bonsai::BudgetKind::Bytes));
    m_kind->addItem(tr("Bits per weight"), int(bonsai::BudgetKind::BitsPerWeight));
    m_kind->addItem(tr("Quality bound (ΔKL)"), int(bonsai::BudgetKind::MaxKl));
    m_kind->addItem(tr("Accuracy drop"), int(bonsai::BudgetKind::MaxDrop)); // named per model on reset
    m_kind->setCurrentIndex(1);
    m_kind->setToolTip(tr("Size and bits per weight: the best predicted quality that fits. Quality bounds: the "
                          "smallest size whose predicted ΔKL, or accuracy drop (perplexity rise), summed over "
                          "the layers, stays under it."));
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] { updateBudgetRange(); });
    m_slider = new QSlider(Qt::Horizontal, box);
    m_slider->setObjectName(QStringLiteral("searchBudgetSlider"));
    m_slider->setRange(0, SliderSteps);
    m_slider->setToolTip(tr("Move to re-solve: the layers get the solution at once (one undo step per drag)."));
    m_value = new QDoubleSpinBox(box);
    m_value->setObjectName(QStringLiteral("searchBudgetValue"));
    m_value->setKeyboardTracking(false);
    m_value->setMinimumWidth(110);
    auto* budgetRow = new QHBoxLayout;
    budgetRow->addWidget(new QLabel(tr("Budget:"), box));
    budgetRow->addWidget(m_kind);
    budgetRow->addWidget(m_slider, 1);
    budgetRow->addWidget(m_value);
    v->addLayout(budgetRow);
    connect(m_slider, &QSlider::valueChanged, this, &SearchPanel::onSliderMoved);
    connect(m_slider, &QSlider::sliderReleased, this, [this] { m_doc->endDrag(); });
    connect(m_value, &QDoubleSpinBox::valueChanged, this, &SearchPanel::onSpinEdited);
    m_solution = new QLabel(box);
    m_solution->setObjectName(QStringLiteral("searchSolution"));
    m_solution->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_solution->setWordWrap(true);
    m_solution->setMinimumWidth(200);
    v->addWidget(m_solution);
    m_stack = new QStackedWidget(box);
    m_empty = new QLabel(m_stack);
    m_empty->setObjectName(QStringLiteral("searchEmpty"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setMargin(16);
    m_empty->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 11pt;"));
    m_view = new QTableView(m_stack);
    m_view->setObjectName(QStringLiteral("sensitivityMap"));
    m_view->setModel(m_model);
    m_view->setItemDelegate(new SensitivityDelegate(m_view));
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setSelectionBehavior(QAbstractItemView::SelectItems);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 7);
    m_view->horizontalHeader()->setDefaultAlignment(Qt::AlignCenter);
    m_view->horizontalHeader()->setHighlightSections(false);
    m_view->setMouseTracking(true);
    connect(m_view, &QTableView::clicked, this, &SearchPanel::activateCell);
    connect(m_view, &QWidget::customContextMenuRequested, this, &SearchPanel::showContextMenu);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentChanged, this, [this] { updateDetail(); });
    // Candidate columns all as wide as the widest size text; Layer and Choice fit their text.
    m_view->horizontalHeader()->setDefaultSectionSize(
        m_view->fontMetrics().horizontalAdvance(QStringLiteral("999.99 KiB")) + 18);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        for (int c : {int(SensitivityModel::LayerColumn), int(SensitivityModel::ChoiceColumn)})
            m_view->resizeColumnToContents(c);
        updateEmptyState();
    });
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_view);
    v->addWidget(m_stack, 1);
    m_detail = new QLabel(box);
    m_detail->setObjectName(QStringLiteral("searchDetail"));
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detail->setWordWrap(true);
    m_detail->setMinimumWidth(200);
    v->addWidget(m_detail);
    return box;
}

int SearchPanel::compactHeight() const
{
    const int line = fontMetrics().lineSpacing();
    const QWidget* settings = m_legend->parentWidget();
    // The status line may wrap to two lines once measured ("… (71 from the cache)").
    const int settingsHeight = settings->minimumSizeHint().height() +
                               std::max(0, 2 * line - m_message->minimumSizeHint().height());
    const QLayout* column = m_solution->parentWidget()->layout();
    const int spacing = std::max(0, column->spacing());
    constexpr int MapRows = 3;
    const int mapHeight = std::max(m_kind->sizeHint().height(), m_value->sizeHint().height()) + 2 * line +
                          std::max(m_view->horizontalHeader()->sizeHint().height(), 2 * line + 6) + // "int4 / g32"
                          MapRows * m_view->verticalHeader()->defaultSectionSize() +
                          m_view->horizontalScrollBar()->sizeHint().height() + 2 * m_view->frameWidth() + 3 * spacing;
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
    if (!m_budgetChosen || m_range.first == m_range.second)
        updateBudgetRange();
}

void SearchPanel::onDone(const SensitivitySnapshot& s)
{
    setRunning(false);
    showJobDone(m_progress, 0);
    m_progress->setFormat(tr("Done"));
    m_search->setTable(s.table, true);
    const auto& p = s.progress;
    const auto* t = m_search->table();
    const QString samples = m_samples->value() > 0 ? formatCount(uint64_t(m_samples->value()))
                                                   : (t->languageModel ? tr("16") : tr("1,000"));
    QString text = tr("%1 cells measured on %2 %3 of %4")
                       .arg(formatCount(t->measuredCells()), samples,
                            t->languageModel ? tr("text chunks") : tr("samples"), QFileInfo(m_data.path).fileName());
    text += p.fromCache ? tr(" (%1 from the cache).").arg(formatCount(p.fromCache)) : QStringLiteral(".");
    showMessage(text, false);
    updateBudgetRange();
    m_search->solve(); // the budget shown, as one undo step
    m_view->resizeColumnToContents(SensitivityModel::ChoiceColumn);
    emit measured();
}

void SearchPanel::onSolved()
{
    const auto& s = m_search->solution();
    const auto* t = m_search->table();
    if (!t) {
        m_solution->clear();
        return;
    }
    if (!s.feasible) {
        m_solution->setStyleSheet(QStringLiteral("color: #b00020;"));
        m_solution->setText(s.message.empty() ? tr("No configuration fits this budget.") : qstr(s.message));
        updateDetail();
        return;
    }
    m_solution->setStyleSheet(QString());
    QString metric;
    if (std::isfinite(s.predictedDelta)) // a drop: accuracy falls, perplexity rises
        metric = t->languageModel ? tr(" · perplexity %1").arg(signedText(s.predictedDelta, 3))
                                  : tr(" · accuracy %1 points").arg(signedText(-100 * s.predictedDelta, 2));
    m_solution->setText(tr("Solution: %1 in %2 layers, %3 bits/weight · predicted ΔKL %4 nats%5")
                            .arg(formatBytes(s.bytes))
                            .arg(t->layers.size())
                            .arg(s.bitsPerWeight, 0, 'f', 2)
                            .arg(s.predictedKl, 0, 'g', 3)
                            .arg(metric));
    m_solution->setToolTip(s.optimal ? tr("Proven optimal for the predicted ΔKL (the layers' sum).")
                                     : tr("The best found; not proven optimal."));
    updateDetail();
}

QString SearchPanel::solutionText() const { return m_solution->text(); }

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

bool SearchPanel::isMapShown() const { return m_stack->currentWidget() == m_view; }

void SearchPanel::updateEmptyState()
{
    const bool map = m_search->table() != nullptr;
    m_empty->setText(emptyText());
    m_stack->setCurrentWidget(map ? static_cast<QWidget*>(m_view) : m_empty);
    m_legend->setVisible(map);
    m_detail->setVisible(map);
    for (QWidget* w : {static_cast<QWidget*>(m_kind), static_cast<QWidget*>(m_slider), static_cast<QWidget*>(m_value)})
        w->setEnabled(map);
}

void SearchPanel::onModelReset()
{
    cancel();
    m_jobId = 0;
    setRunning(false);
    clearJobProgress(m_progress);
    showMessage(QString(), false);
    m_solution->clear();
    m_budgetChosen = false;
    const bool llm = isLlm(m_doc);
    m_samples->setSpecialValueText(llm ? tr("default (16 chunks)") : tr("default (1,000)"));
    m_search->setTiesQuiet(llm ? std::vector<std::string>{"qkv", "gate_up"} : std::vector<std::string>{});
    showTies();
    m_kind->setItemText(m_kind->findData(int(bonsai::BudgetKind::MaxDrop)),
                        llm ? tr("Perplexity rise") : tr("Accuracy drop"));
    refreshData();
    updateDetail();
}

void SearchPanel::updateDetail()
{
    const auto* t = m_search->table();
    if (!t || t->layers.empty()) {
        m_detail->clear();
        return;
    }
    const QModelIndex current = m_view->currentIndex();
    const int row = current.isValid() ? current.row() : -1;
    if (row < 0) {
        m_detail->setText(tr("Select a layer to see why it has its configuration; click a cell to pin the layer to it."));
        return;
    }
    const QString layer = qstr(t->layers[size_t(row)]);
    const QString pin = m_search->pinned(row) >= 0 ? tr(" (pinned)") : QString();
    m_detail->setText(tr("%1%2: %3").arg(layer, pin, m_search->explanation(row)));
}

QString SearchPanel::detailText() const { return m_detail->text(); }

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

void SearchPanel::activateCell(const QModelIndex& index)
{
    const int candidate = SensitivityModel::candidateOf(index.column());
    if (!index.isValid() || candidate < 0 || !index.data(SensitivityModel::ApplicableRole).toBool())
        return;
    m_search->togglePin(index.row(), candidate);
}

void SearchPanel::showContextMenu(const QPoint& pos)
{
    const QModelIndex index = m_view->indexAt(pos);
    if (!index.isValid())
        return;
    const int row = index.row();
    const int candidate = SensitivityModel::candidateOf(index.column());
    const auto* t = m_search->table();
    QMenu menu(this);
    if (candidate >= 0 && index.data(SensitivityModel::ApplicableRole).toBool() && m_search->pinned(row) != candidate)
        menu.addAction(tr("Pin %1 to %2").arg(qstr(t->layers[size_t(row)]), qstr(t->candidates[size_t(candidate)].name)),
                       this, [this, row, candidate] { m_search->pin(row, candidate); });
    if (m_search->pinned(row) >= 0)
        menu.addAction(tr("Unpin %1").arg(qstr(t->layers[size_t(row)])), this, [this, row] { m_search->unpin(row); });
    if (menu.actions().isEmpty())
        return;
    menu.exec(m_view->viewport()->mapToGlobal(pos));
}

// --- The budget: slider positions, the spin box and the solver ---

bonsai::BudgetKind SearchPanel::budgetKind() const { return bonsai::BudgetKind(m_kind->currentData().toInt()); }

void SearchPanel::setBudgetKind(bonsai::BudgetKind kind)
{
    const int i = m_kind->findData(int(kind));
    if (i >= 0)
        m_kind->setCurrentIndex(i);
}

double SearchPanel::budgetValue() const { return m_value->value() / spinScale(); }

double SearchPanel::spinScale() const
{
    if (budgetKind() == bonsai::BudgetKind::MaxDrop && !isLlm(m_doc))
        return 100; // accuracy in points
    if (budgetKind() != bonsai::BudgetKind::Bytes)
        return 1;
    return m_range.second >= double(1 << 20) ? 1.0 / double(1 << 20) : 1.0 / 1024;
}

double SearchPanel::valueAt(int position) const
{
    const auto [lo, hi] = m_range;
    const double f = double(position) / SliderSteps;
    if (budgetKind() == bonsai::BudgetKind::MaxKl) {
        const double a = std::max(lo, 1e-9), b = std::max(hi, a);
        return std::exp(std::log(a) + f * (std::log(b) - std::log(a)));
    }
    return lo + f * (hi - lo);
}

int SearchPanel::positionOf(double value) const
{
    const auto [lo, hi] = m_range;
    double f = 0;
    if (budgetKind() == bonsai::BudgetKind::MaxKl) {
        const double a = std::max(lo, 1e-9), b = std::max(hi, a);
        f = b > a ? (std::log(std::max(value, a)) - std::log(a)) / (std::log(b) - std::log(a)) : 0;
    } else {
        f = hi > lo ? (value - lo) / (hi - lo) : 0;
    }
    return int(std::lround(std::clamp(f, 0.0, 1.0) * SliderSteps));
}

void SearchPanel::updateBudgetRange()
{
    const bonsai::BudgetKind kind = budgetKind();
    m_range = m_search->budgetRange(kind);
    const double scale = spinScale();
    m_syncing = true;
    switch (kind) {
    case bonsai::BudgetKind::Bytes:
        m_value->setDecimals(scale < 1.0 / 1024 ? 3 : 2);
        m_value->setSuffix(scale < 1.0 / 1024 ? tr(" MiB") : tr(" KiB"));
        m_value->setSingleStep(scale < 1.0 / 1024 ? 0.1 : 1);
        break;
    case bonsai::BudgetKind::BitsPerWeight:
        m_value->setDecimals(2);
        m_value->setSuffix(tr(" bits/weight"));
        m_value->setSingleStep(0.1);
        break;
    case bonsai::BudgetKind::MaxDrop:
        m_value->setDecimals(isLlm(m_doc) ? 4 : 2);
        m_value->setSuffix(isLlm(m_doc) ? tr(" perplexity") : tr(" points"));
        m_value->setSingleStep(isLlm(m_doc) ? 0.01 : 0.1);
        break;
    default:
        m_value->setDecimals(6);
        m_value->setSuffix(tr(" nats"));
        m_value->setSingleStep(0.0001);
        break;
    }
    m_value->setRange(m_range.first * scale, m_range.second * scale);
    // The value the document has now in this unit, else the budget asked for.
    const auto& s = m_search->solution();
    double value = m_search->budget().value;
    if (!m_budgetChosen && kind == bonsai::BudgetKind::BitsPerWeight)
        value = DefaultBitsPerWeight; // until a budget is chosen: the range may still grow
    else if (s.feasible && m_search->budget().kind != kind)
        value = kind == bonsai::BudgetKind::Bytes ? double(s.bytes)
              : kind == bonsai::BudgetKind::BitsPerWeight ? s.bitsPerWeight
              : kind == bonsai::BudgetKind::MaxDrop       ? s.predictedDelta
                                                            : s.predictedKl;
    value = std::clamp(value, m_range.first, m_range.second);
    m_value->setValue(value * scale);
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    if (m_search->budget().kind != kind || !m_budgetChosen)
        m_search->setBudgetQuiet({kind, value});
    updateEmptyState();
}

void SearchPanel::onSliderMoved(int position)
{
    if (m_syncing || !m_search->table())
        return;
    const double value = valueAt(position);
    m_syncing = true;
    m_value->setValue(value * spinScale());
    m_syncing = false;
    m_budgetChosen = true;
    m_search->setBudget({budgetKind(), value});
    if (!m_slider->isSliderDown())
        m_doc->endDrag(); // keys and clicks: a step each
}

void SearchPanel::onSpinEdited()
{
    if (m_syncing || !m_search->table())
        return;
    const double value = m_value->value() / spinScale();
    m_syncing = true;
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    m_budgetChosen = true;
    m_search->setBudget({budgetKind(), value});
    m_doc->endDrag();
}

void SearchPanel::setBudgetValue(double value)
{
    m_syncing = true;
    m_value->setValue(value * spinScale());
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    m_budgetChosen = true;
    m_search->setBudget({budgetKind(), value});
    m_doc->endDrag();
}

void SearchPanel::setSliderPosition(int position)
{
    m_slider->setValue(position);
    m_doc->endDrag();
}

} // namespace bonsai::ui
