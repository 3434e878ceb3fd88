#include "speedpanel.h"

#include "compressiondocument.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QGridLayout>
#include <QBoxLayout>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <functional>

namespace bonsai::ui {

namespace {

// "2.35 (2.30–2.50) ms": the median and the range over the repeats.
QString spreadText(const bonsai::Spread& s, bool twoLines)
{
    return formatLatencySpread(s.median, s.min, s.max, twoLines);
}

// Two timings whose ranges over the repeats overlap: their difference is within the noise.
bool overlap(const bonsai::Spread& a, const bonsai::Spread& b) { return a.min <= b.max && b.min <= a.max; }

// "14,290 tokens/s", "603.2 tokens/s", "9.85 samples/s".
QString rateText(double perSecond, const QString& unit, bool twoLines)
{
    const QString n = perSecond >= 1000 ? formatCount(uint64_t(std::llround(perSecond)))
                                        : QString::number(perSecond, 'f', perSecond >= 100 ? 1 : 2);
    return QStringLiteral("%1%2%3").arg(n, twoLines ? QStringLiteral("\n") : QStringLiteral(" "), unit);
}

// How the configured value compares: "1.85× faster", "3.9× smaller"; `ratio` > 1 is better.
QString changeText(double ratio, const QString& better, const QString& worse)
{
    if (!(ratio > 0) || std::isinf(ratio))
        return QStringLiteral("—");
    if (std::abs(ratio - 1) < 0.005)
        return QObject::tr("same");
    return ratio > 1 ? QStringLiteral("%1× %2").arg(ratio, 0, 'f', 2).arg(better)
                     : QStringLiteral("%1× %2").arg(1 / ratio, 0, 'f', 2).arg(worse);
}

// A read-only cell; numbers (every column but the first) right-aligned.
void setCell(QTableWidget* t, int row, int col, const QString& text, const QString& tip)
{
    auto* item = new QTableWidgetItem(text);
    item->setToolTip(tip);
    if (col > 0)
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    t->setItem(row, col, item);
}

QTableWidget* makeTable(const QString& name, QWidget* parent)
{
    auto* t = new QTableWidget(parent);
    t->setObjectName(name);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->verticalHeader()->setVisible(false);
    t->setWordWrap(false);
    t->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    t->horizontalHeader()->setStretchLastSection(true);
    return t;
}

} // namespace

SpeedPanel::SpeedPanel(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_job(new SpeedRunner(this))
{
    buildUi();
    connect(m_doc, &CompressionDocument::modelReset, this, &SpeedPanel::onModelReset);
    connectCurrentJob(m_job->runner(), this, m_jobId,
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
                           showMessage(tr("Speed run cancelled; nothing was kept."), false);
                           emit measureCancelled();
                       }});
    onModelReset();
}

SpeedPanel::~SpeedPanel()
{
    disconnect(m_job->runner(), nullptr, this, nullptr);
    m_job->runner()->cancel();
    m_job->runner()->waitForIdle();
}

void SpeedPanel::buildUi()
{
    auto* settings = new QWidget(this);
    settings->setMaximumWidth(340);
    settings->setMinimumWidth(250); // the status wraps to few lines: the form keeps its rows in a low dock
    // A grid rather than a form: rows of one model kind are hidden for the other, which
    // QFormLayout's height-for-width (the wrapped status below) miscounted.
    auto* grid = new QGridLayout(settings);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setColumnStretch(1, 1);
    int row = 0;
    auto spin = [&](const QString& label, int lo, int hi, int value, const QString& suffix, const QString& tip) {
        auto* s = new QSpinBox(settings);
        s->setRange(lo, hi);
        s->setValue(value);
        s->setSuffix(suffix);
        s->setToolTip(tip);
        auto* l = new QLabel(label, settings);
        l->setBuddy(s);
        grid->addWidget(l, row, 0);
        grid->addWidget(s, row++, 1);
        return std::pair{l, s};
    };
    m_batch = spin(tr("Batch:"), 1, 4096, 1, tr(" per run"),
                   tr("Images per run (classifiers) or sequences decoded together (language models)."))
                  .second;
    m_repeats = spin(tr("Repeats:"), 1, 1000, 3, QString(),
                     tr("Timed repeats after one warm-up pass; the results are the median with the range. "
                        "Classifiers are timed at least 5 times."))
                    .second;
    const auto prompt = spin(tr("Prompt:"), 1, 8192, 128, tr(" tokens"),
                             tr("Language models: the prompt each sequence is prefilled with."));
    const auto tokens = spin(tr("Decode:"), 1, 8192, 32, tr(" tokens"),
                             tr("Language models: decode steps per repeat, one token each."));
    m_prompt = prompt.second;
    m_tokens = tokens.second;
    m_llmOnly = {prompt.first, prompt.second, tokens.first, tokens.second};
    m_deploy = new QCheckBox(tr("INT8 layers in INT8"), settings);
    m_deploy->setChecked(true);
    m_deploy->setToolTip(tr("Classifiers: layers compressed to symmetric INT8 (per channel or per tensor) run from "
                            "their integer codes on the INT8 kernels, as deployed. Off, or for other "
                            "configurations, the executor computes with the compressed values in float32."));
    grid->addWidget(m_deploy, row++, 0, 1, 2);

    const JobButtons buttons = makeJobButtons(
        tr("Measure the original model and the model compressed as configured, on this machine."),
        tr("Stop the run; nothing is kept."), settings);
    m_start = buttons.start;
    m_cancel = buttons.cancel;
    m_start->setObjectName(QStringLiteral("speedStart"));
    buttons.row->addStretch(1);
    grid->addLayout(buttons.row, row++, 0, 1, 2);
    connect(m_start, &QPushButton::clicked, this, &SpeedPanel::start);
    connect(m_cancel, &QPushButton::clicked, this, &SpeedPanel::cancel);
    m_progress = makeJobProgressBar(tr("Progress of the run (the original model, then the configured one), "
                                       "with an estimate of the time left."),
                                    settings);
    grid->addWidget(m_progress, row++, 0, 1, 2);
    m_message = makeMessageLabel(settings);
    grid->addWidget(m_message, row++, 0, 1, 2);
    grid->setRowStretch(row, 1);

    m_summary = makeTable(QStringLiteral("speedSummary"), this);
    m_parts = makeTable(QStringLiteral("speedParts"), this);
    m_tabs = new QTabWidget(this);
    m_tabs->addTab(m_summary, tr("Summary"));
    m_tabs->addTab(m_parts, tr("Per part"));
    m_empty = new QLabel(this);
    m_empty->setObjectName(QStringLiteral("speedEmpty"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setMargin(12);
    m_empty->setForegroundRole(QPalette::PlaceholderText);
    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_tabs);

    // Settings beside the results; the window puts the results below them in a side dock.
    auto* layout = new QBoxLayout(QBoxLayout::LeftToRight, this);
    layout->addWidget(settings);
    layout->addWidget(m_stack, 1);
}


void SpeedPanel::showEmpty(const QString& text)
{
    m_empty->setText(text);
    m_stack->setCurrentWidget(m_empty);
}

bool SpeedPanel::showsEmptyState() const { return m_stack->currentWidget() == m_empty; }

void SpeedPanel::onModelReset()
{
    if (m_jobId) {
        cancel();
        setRunning(false);
    }
    const auto& model = m_doc->model();
    m_unsupported = SpeedRunner::unsupportedReason(model.get());
    m_result.reset();
    clearJobProgress(m_progress);
    const bool llm = model && bonsai::isLanguageModel(*model);
    for (QWidget* w : m_llmOnly)
        w->setVisible(llm);
    m_deploy->setVisible(!llm);
    m_tabs->setTabText(1, llm ? tr("Per part") : tr("Per node"));
    if (model && m_unsupported.isEmpty()) {
        showMessage(tr("Ready: Start measures the original and the configured model on this machine."), false);
        showEmpty(llm ? tr("Not measured yet.\nStart times prefill and decode (tokens/s), the latency of each decode "
                           "step and of each part, and the memory the weights and the KV cache take.")
                      : tr("Not measured yet.\nStart times a run of a batch (latency, samples/s) and each node on its "
                           "own, and the memory the weights and activations take."));
    } else {
        showMessage(m_unsupported, model != nullptr);
        showEmpty(m_unsupported);
    }
    m_start->setEnabled(canStart());
    emit readyChanged(canStart());
}

bonsai::SpeedOptions SpeedPanel::options() const
{
    bonsai::SpeedOptions o;
    o.batch = m_batch->value();
    o.repeats = m_repeats->value();
    o.prompt = m_prompt->value();
    o.tokens = m_tokens->value();
    o.deploy = m_deploy->isChecked();
    return o;
}

void SpeedPanel::setOptions(const bonsai::SpeedOptions& o)
{
    m_batch->setValue(int(o.batch));
    m_repeats->setValue(int(o.repeats));
    m_prompt->setValue(int(o.prompt));
    m_tokens->setValue(int(o.tokens));
    m_deploy->setChecked(o.deploy);
}

QString SpeedPanel::message() const { return m_message->text(); }
JobRunner* SpeedPanel::runner() const { return m_job->runner(); }
bool SpeedPanel::isBusy() const { return m_jobId != 0 && m_job->runner()->isBusy(); }
bool SpeedPanel::canStart() const { return m_doc->model() && m_unsupported.isEmpty(); }

void SpeedPanel::start()
{
    if (!canStart()) {
        const QString msg = m_unsupported.isEmpty() ? tr("No model is open.") : m_unsupported;
        showMessage(msg, true);
        emit measureFailed(msg);
        return;
    }
    SpeedRequest request;
    request.model = m_doc->model();
    request.configs = m_doc->configs();
    request.options = options();
    m_stage.clear();
    showMessage(tr("Measuring on this machine; other work on it slows the figures down."), false);
    m_progress->setValue(0);
    m_progress->setFormat(tr("Starting…"));
    m_jobId = 0; // a cancelled predecessor reports under its own id
    m_jobId = m_job->start(
        request, this, [this](const QString& stage) { m_stage = stage; },
        [this](const SpeedComparison& r) { onFinished(r); });
    setRunning(true);
}

void SpeedPanel::cancel()
{
    if (m_jobId && m_job->runner()->isBusy())
        m_job->runner()->cancel();
}

void SpeedPanel::setRunning(bool running)
{
    m_start->setEnabled(!running && canStart());
    m_cancel->setEnabled(running);
    if (!running)
        m_jobId = 0;
}

void SpeedPanel::showMessage(const QString& text, bool error) { showPanelMessage(m_message, text, error); }

void SpeedPanel::onFinished(const SpeedComparison& r)
{
    m_result = r;
    setRunning(false);
    m_progress->setValue(1000);
    m_progress->setFormat(tr("Done"));
    fillSummary(r);
    fillParts(r);
    m_stack->setCurrentWidget(m_tabs);
    const bonsai::SpeedResult& o = *r.configured;
    QString msg = r.both() ? tr("Measured %1 and %2 with %3 threads.")
                                 .arg(SpeedRunner::originalName(*r.original), r.label)
                                 .arg(o.threads)
                  : r.compressed() ? tr("Measured %1 with %2 threads. %3").arg(r.label).arg(o.threads).arg(r.originalSkipped)
                                   : tr("No layer is compressed: the model was measured as it is, with %1 threads.")
                                         .arg(o.threads);
    const int int8 = int(o.int8Layers.size());
    const auto changed = std::count_if(r.configs.begin(), r.configs.end(),
                                       [](const bonsai::LayerConfig& c) { return !c.isIdentity(); });
    if (o.kind == bonsai::SpeedResult::Kind::Classifier && r.compressed()) {
        if (int8)
            msg += (int8 == 1 ? tr(" 1 layer ran in INT8 from its codes.")
                              : tr(" %1 layers ran in INT8 from their codes.").arg(int8)) +
                   (changed > int8 ? tr(" The other compressed layers ran with their float32 values.") : QString());
        else
            msg += tr(" The executor computed with the compressed layers' float32 values: compression changed "
                      "the size, not this speed.");
    }
    for (const std::string& n : r.configured->notes)
        msg += QLatin1Char('\n') + qstr(n);
    const double busy = std::max(r.configured->otherCpuShare, r.original ? r.original->otherCpuShare : -1.0);
    if (busy > bonsai::kBusyMachineShare)
        msg += QLatin1Char('\n') + tr("Other programs used %1% of the CPUs while this measured: the figures are slower "
                                      "than this machine can do. Measure again when it is idle.")
                                       .arg(qRound(100 * busy));
    showMessage(msg, false);
    emit measured(r);
}

void SpeedPanel::fillSummary(const SpeedComparison& r)
{
    const bool two = m_compact;
    const bonsai::SpeedResult& a = *r.configured; // the settings are both measures'
    const bool llm = a.kind == bonsai::SpeedResult::Kind::LanguageModel;
    struct Line {
        QString name, tip;
        std::function<QString(const bonsai::SpeedResult&)> text;
        std::function<double(const bonsai::SpeedResult&)> value; // for the change; empty: none
        bool higherIsBetter = false;
        QString better, worse;
        // The timing the value comes from: when the two ranges overlap the change is noise.
        std::function<bonsai::Spread(const bonsai::SpeedResult&)> timing = {};
    };
    const QString faster = tr("faster"), slower = tr("slower"), smaller = tr("smaller"), larger = tr("larger");
    auto bytes = [](uint64_t n) { return formatBytes(n); };
    std::vector<Line> lines;
    if (llm) {
        lines.push_back({tr("Weights"), tr("How the linear layers are stored for the kernels."),
                         [two](const auto& s) {
                             // "Q4_K: 97 layers, Q6_K: 16 layers"; in a side dock on lines of their own
                             return two ? qstr(s.weightSummary)
                                              .replace(QStringLiteral(", "), QStringLiteral("\n"))
                                              .replace(QStringLiteral(": "), QStringLiteral(":\n"))
                                        : qstr(s.weightSummary);
                         }, {}, false, {}, {}});
        const auto prefill = [](const bonsai::SpeedResult& s) { return s.prefill; };
        const auto step = [](const bonsai::SpeedResult& s) { return s.decodeStep; };
        const QString prompt = tr("a prompt of %1 tokens × %2 sequences").arg(a.promptTokens).arg(a.batch);
        lines.push_back({tr("Prefill"), tr("Tokens per second over %1.").arg(prompt),
                         [two](const auto& s) { return rateText(s.prefillTokensPerSecond, tr("tokens/s"), two); },
                         [](const auto& s) { return s.prefillTokensPerSecond; }, true, faster, slower, prefill});
        lines.push_back({tr("Prefill time"), tr("Time of %1: median (range) over the repeats.").arg(prompt),
                         [two](const auto& s) { return spreadText(s.prefill, two); },
                         [](const auto& s) { return s.prefill.median; }, false, faster, slower, prefill});
        lines.push_back({tr("Decode"), tr("Tokens per second of one sequence: one over the median decode step."),
                         [two](const auto& s) { return rateText(s.decodeTokensPerSecond, tr("tokens/s"), two); },
                         [](const auto& s) { return s.decodeTokensPerSecond; }, true, faster, slower, step});
        lines.push_back({tr("Decode step"),
                         tr("Latency of one decode step of the batch: median (range) over %1 steps.")
                             .arg(a.decodeSteps),
                         [two](const auto& s) { return spreadText(s.decodeStep, two); },
                         [](const auto& s) { return s.decodeStep.median; }, false, faster, slower, step});
        lines.push_back({tr("Throughput"), tr("Tokens per second over the batch of %1 sequences.").arg(a.batch),
                         [two](const auto& s) { return rateText(s.throughput, tr("tokens/s"), two); },
                         [](const auto& s) { return s.throughput; }, true, faster, slower, step});
    } else {
        const auto run = [](const bonsai::SpeedResult& s) { return s.latency; };
        lines.push_back({tr("Latency"),
                         tr("Time of one run of a batch of %1: median (range) over %2 repeats.")
                             .arg(a.batch)
                             .arg(a.repeats),
                         [two](const auto& s) { return spreadText(s.latency, two); },
                         [](const auto& s) { return s.latency.median; }, false, faster, slower, run});
        lines.push_back({tr("Throughput"), tr("Images per second: the batch over the median latency."),
                         [two](const auto& s) { return rateText(s.throughput, tr("samples/s"), two); },
                         [](const auto& s) { return s.throughput; }, true, faster, slower, run});
    }
    lines.push_back({tr("Resident weights"),
                     llm ? tr("Memory of the linear layers' weights as the kernels use them (packed codes and scales).")
                         : tr("The model's weights as stored; the executor computes with float32 values."),
                     [bytes](const auto& s) { return bytes(s.weightBytes); },
                     [](const auto& s) { return double(s.weightBytes); }, false, smaller, larger});
    if (llm)
        lines.push_back({tr("KV cache"), tr("Keys and values of every block for the prompt and the decoded tokens."),
                         [bytes](const auto& s) { return bytes(s.kvCacheBytes); }, {}, false, {}, {}});
    else
        lines.push_back({tr("Activations"), tr("Every value one run computes, held at once."),
                         [bytes](const auto& s) { return bytes(s.activationBytes); }, {}, false, {}, {}});
    lines.push_back({tr("Peak memory"),
                     tr("The largest resident memory of the whole Bonsai process so far (its models, "
                        "caches and windows included), read after each measure."),
                     [](const auto& s) { return formatBytes(uint64_t(s.peakRssBytes)); }, {}, false, {}, {}});

    const auto cols = columns(r);
    m_summary->clear();
    m_summary->setColumnCount(int(cols.size()) + (r.both() ? 2 : 1));
    QStringList header{tr("Measure")};
    for (const auto& [name, result] : cols)
        header << name;
    if (r.both())
        header << tr("Change");
    m_summary->setHorizontalHeaderLabels(header);
    m_summary->setRowCount(int(lines.size()));
    for (int i = 0; i < int(lines.size()); ++i) {
        const Line& l = lines[size_t(i)];
        auto put = [&](int col, const QString& text) { setCell(m_summary, i, col, text, l.tip); };
        put(0, l.name);
        for (int c = 0; c < int(cols.size()); ++c)
            put(c + 1, l.text(*cols[size_t(c)].second));
        if (!r.both())
            continue;
        const bonsai::SpeedResult& b = *r.configured;
        QString change = QStringLiteral("—");
        if (l.timing && overlap(l.timing(*r.original), l.timing(b))) {
            change = tr("within the noise");
        } else if (l.value) {
            const double va = l.value(*r.original), vb = l.value(b);
            change = changeText(l.higherIsBetter ? vb / va : va / vb, l.better, l.worse);
        }
        put(3, change);
        m_summary->item(i, 2)->setToolTip(l.tip + tr("\nChange: %1").arg(change)); // the column narrow docks hide
    }
    showCompact(m_summary, r.both());
}

void SpeedPanel::showCompact(QTableWidget* table, bool withChange) const
{
    // A side dock: the times on two lines and no Change column (the configured cells' tooltips
    // say it), so the values fit its width.
    if (withChange)
        table->setColumnHidden(3, m_compact);
    table->resizeRowsToContents();
}

void SpeedPanel::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    const bool compact = width() < CompactWidth;
    if (compact == m_compact)
        return;
    m_compact = compact;
    if (m_result) {
        fillSummary(*m_result);
        fillParts(*m_result);
    }
}

std::vector<std::pair<QString, const bonsai::SpeedResult*>> SpeedPanel::columns(const SpeedComparison& r)
{
    std::vector<std::pair<QString, const bonsai::SpeedResult*>> cols;
    if (r.original)
        cols.emplace_back(SpeedRunner::originalName(*r.original), r.original.get());
    if (r.compressed())
        cols.emplace_back(tr("Configured"), r.configured.get());
    return cols;
}

void SpeedPanel::fillParts(const SpeedComparison& r)
{
    const auto cols = columns(r);
    const bonsai::SpeedResult& a = *r.configured;
    const bool llm = a.kind == bonsai::SpeedResult::Kind::LanguageModel;
    m_parts->clear();
    m_parts->setColumnCount(int(cols.size()) + (r.both() ? 2 : 1));
    QStringList header{llm ? tr("Part (per decoded token)") : tr("Node (per batch)")};
    for (const auto& [name, result] : cols)
        header << name;
    if (r.both())
        header << tr("Change");
    m_parts->setHorizontalHeaderLabels(header);
    const int rows = int(llm ? a.parts.size() : a.nodes.size());
    m_parts->setRowCount(rows);
    auto timing = [llm](const bonsai::SpeedResult& s, int i) {
        const size_t k = size_t(i);
        return llm ? (k < s.parts.size() ? s.parts[k].seconds : bonsai::Spread{})
                   : (k < s.nodes.size() ? s.nodes[k].seconds : bonsai::Spread{});
    };
    for (int i = 0; i < rows; ++i) {
        QString name;
        if (llm) {
            name = qstr(a.parts[size_t(i)].name);
        } else {
            const bonsai::NodeSpeed& n = a.nodes[size_t(i)];
            name = n.name.empty() ? qstr(n.op) : QStringLiteral("%1 (%2)").arg(qstr(n.name), qstr(n.op));
        }
        auto put = [&](int col, const QString& text) {
            setCell(m_parts, i, col, text, tr("Median (range) over the repeats."));
        };
        put(0, name);
        for (int c = 0; c < int(cols.size()); ++c)
            put(c + 1, spreadText(timing(*cols[size_t(c)].second, i), m_compact));
        if (r.both()) {
            const bonsai::Spread sa = timing(*r.original, i), sb = timing(*r.configured, i);
            const QString change =
                overlap(sa, sb) ? tr("within the noise") : changeText(sa.median / sb.median, tr("faster"), tr("slower"));
            put(3, change);
            m_parts->item(i, 2)->setToolTip(tr("Median (range) over the repeats.\nChange: %1").arg(change));
        }
    }
    showCompact(m_parts, r.both());
}

} // namespace bonsai::ui
