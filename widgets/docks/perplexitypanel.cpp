#include "perplexitypanel.h"
#include "bonsai/describe.h"

#include "compressiondocument.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"
#include "perplexityrunner.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/model.h"

#include <QChart>
#include <QChartView>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegend>
#include <QLineEdit>
#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QSpinBox>
#include <QTabWidget>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

PerplexityPanel::PerplexityPanel(CompressionDocument* doc, TradeoffModel* tradeoffs, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_tradeoffs(tradeoffs), m_job(new PerplexityRunner(this))
{
    buildUi();
    connect(m_doc, &CompressionDocument::modelReset, this, &PerplexityPanel::onModelReset);
    connectCurrentJob(m_job->runner(), this, m_jobId,
                      {.progress = [this](double f, double eta) {
                           showJobProgress(m_progress, m_stage.isEmpty() ? tr("Evaluating") : m_stage, f, eta);
                       },
                       .failed = [this](const QString& msg) {
                           setRunning(false);
                           showMessage(msg, true);
                           emit measureFailed(msg);
                       },
                       .cancelled = [this] {
                           setRunning(false);
                           showMessage(tr("Perplexity run cancelled."), false);
                           emit measureCancelled();
                       }});
    onModelReset();
}

PerplexityPanel::~PerplexityPanel()
{
    disconnect(m_job->runner(), nullptr, this, nullptr);
    m_job->runner()->cancel();
    m_job->runner()->waitForIdle();
}

void PerplexityPanel::browse(QLineEdit* edit, const QString& title)
{
    const QString start = edit->text().isEmpty() && m_doc->model() ? QString::fromStdString(m_doc->model()->path) : edit->text();
    const QString f = QFileDialog::getOpenFileName(this, title, start, tr("Text files (*.txt);;All files (*)"));
    if (!f.isEmpty())
        edit->setText(f);
}

void PerplexityPanel::buildUi()
{
    auto* settings = new QWidget(this);
    settings->setMaximumWidth(420);
    auto* form = new QFormLayout(settings);
    // In a narrow side dock a field goes below its label rather than widening the dock.
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    form->setContentsMargins(0, 0, 0, 0);

    m_text = new QLineEdit(settings);
    m_text->setObjectName(QStringLiteral("perplexityText"));
    m_text->setPlaceholderText(tr("choose a plain-text file (UTF-8)"));
    m_text->setToolTip(tr("The text the perplexity is measured on; eval.txt beside the checkpoint "
                          "is chosen when there is one."));
    auto* browseText = new QPushButton(tr("Browse…"), settings);
    browseText->setToolTip(tr("Choose the text file to evaluate on."));
    connect(browseText, &QPushButton::clicked, this, [this] { browse(m_text, tr("Evaluation Text")); });
    form->addRow(tr("Text:"), pathRow(m_text, browseText));

    m_ctx = new QSpinBox(settings);
    m_ctx->setRange(8, 32768);
    m_ctx->setValue(128);
    m_ctx->setSuffix(tr(" tokens"));
    m_ctx->setToolTip(tr("Tokens per chunk: each chunk is run as BOS + chunk and every token is scored. "
                         "Longer contexts give lower perplexity and take longer."));
    m_maxChunks = new QSpinBox(settings);
    m_maxChunks->setRange(0, 1000000);
    m_maxChunks->setSpecialValueText(tr("all"));
    m_maxChunks->setToolTip(tr("Evaluate only the first N chunks of the text (0: all): faster, less precise."));
    form->addRow(tr("Context:"), m_ctx);
    form->addRow(tr("Max chunks:"), m_maxChunks);

    m_calibration = new QLineEdit(settings);
    m_calibration->setPlaceholderText(tr("same as the text"));
    m_calibration->setToolTip(tr("GPTQ and AWQ layers are calibrated on the activations of this text "
                                 "(empty: the evaluated text), on as many chunks of it as each layer's Calibration "
                                 "setting in the compression inspector says. RTN layers need no calibration."));
    auto* browseCalib = new QPushButton(tr("Browse…"), settings);
    browseCalib->setToolTip(tr("Choose the calibration text file."));
    connect(browseCalib, &QPushButton::clicked, this, [this] { browse(m_calibration, tr("Calibration Text")); });
    form->addRow(tr("Calibration:"), pathRow(m_calibration, browseCalib));

    const JobButtons buttons = makeJobButtons(tr("Measure the perplexity of the model compressed as configured."),
                                              tr("Stop the run; nothing is kept."), settings);
    m_start = buttons.start;
    m_cancel = buttons.cancel;
    m_start->setObjectName(QStringLiteral("perplexityStart"));
    buttons.row->addStretch(1);
    form->addRow(buttons.row);
    connect(m_start, &QPushButton::clicked, this, &PerplexityPanel::start);
    connect(m_cancel, &QPushButton::clicked, this, &PerplexityPanel::cancel);
    connect(m_text, &QLineEdit::textChanged, this, [this] { m_start->setEnabled(canStart() && !isBusy()); });

    m_progress = makeJobProgressBar(tr("Progress of the run, with an estimate of the time left."), settings);
    form->addRow(m_progress);
    m_message = makeMessageLabel(settings);
    form->addRow(m_message);

    auto* results = new QWidget(settings);
    auto* grid = new QGridLayout(results);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setColumnStretch(1, 1);
    grid->setColumnStretch(3, 1);
    grid->setHorizontalSpacing(6);
    int cell = 0;
    auto value = [&](const QString& label, const QString& tip) {
        auto* l = new QLabel(tr("—"), results);
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->setToolTip(tip);
        auto* name = new QLabel(label, results);
        name->setToolTip(tip);
        grid->addWidget(name, cell / 2, (cell % 2) * 2);
        grid->addWidget(l, cell / 2, (cell % 2) * 2 + 1);
        ++cell;
        return l;
    };
    m_ppl = value(tr("Perplexity:"), tr("exp(mean negative log-likelihood per token) of the compressed model: lower is better."));
    m_base = value(tr("Uncompressed:"), tr("The perplexity of the uncompressed model on the same tokens."));
    m_kl = value(tr("KL:"), tr("Mean KL divergence of the compressed model's next-token distribution from the "
                               "uncompressed model's, in nats per token."));
    m_agreement = value(tr("Agreement:"), tr("How often the compressed and uncompressed models predict the same next token."));
    m_tokens = value(tr("Tokens:"), tr("Scored tokens (and chunks)."));
    m_time = value(tr("Time:"), tr("Wall-clock time of the run."));
    m_size = value(tr("Size:"), tr("Original and compressed model bytes."));
    grid->addWidget(m_size, 3, 1, 1, 3); // the longest value gets the whole row
    form->addRow(results);

    auto* chart = new QChart;
    chart->setTitle(tr("Running perplexity"));
    chart->setMargins(QMargins(2, 2, 2, 2));
    m_chunks = new QScatterSeries(chart);
    m_chunks->setName(tr("per chunk"));
    m_chunks->setMarkerSize(6);
    QColor light = palette().color(QPalette::Mid);
    m_chunks->setColor(light);
    m_chunks->setBorderColor(light);
    m_running = new QLineSeries(chart);
    m_running->setName(tr("running"));
    QPen pen(palette().color(QPalette::Highlight));
    pen.setWidthF(2.0);
    m_running->setPen(pen);
    chart->addSeries(m_chunks);
    chart->addSeries(m_running);
    auto* x = new QValueAxis(chart);
    x->setTitleText(tr("tokens evaluated"));
    x->setLabelFormat(QStringLiteral("%d"));
    x->setRange(0, 1);
    auto* y = new QValueAxis(chart);
    y->setTitleText(tr("perplexity"));
    y->setRange(0, 1);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : {static_cast<QAbstractSeries*>(m_chunks), static_cast<QAbstractSeries*>(m_running)}) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
    chart->legend()->setAlignment(Qt::AlignBottom);
    m_chartView = new QChartView(chart, this);
    m_chartView->setObjectName(QStringLiteral("perplexityChart"));
    m_chartView->setRenderHint(QPainter::Antialiasing);
    m_chartView->setMinimumSize(280, 200); // fits a 1366-px screen's side dock with its scroll bar
    m_chartView->setToolTip(tr("The perplexity of each chunk and over all chunks so far, as the run "
                               "proceeds: the running value settles as more text is seen."));
    m_tradeoffChart = new TradeoffChart(m_tradeoffs, this);
    m_tabs = new QTabWidget(this);
    m_tabs->addTab(m_chartView, tr("Running perplexity"));
    m_tabs->addTab(m_tradeoffChart, tr("Perplexity trade-off"));

    auto* layout = new QHBoxLayout(this);
    layout->addWidget(settings);
    layout->addWidget(m_tabs, 1);
}

void PerplexityPanel::showTab(Tab tab) { m_tabs->setCurrentIndex(tab == RunningTab ? 0 : 1); }

void PerplexityPanel::onModelReset()
{
    if (m_jobId) {
        cancel();
        setRunning(false);
    }
    m_job->reset(); // the old language model is dropped once its job ends
    const auto& model = m_doc->model();
    m_unsupported = PerplexityRunner::unsupportedReason(model.get());
    m_result.reset();
    m_label.clear();
    clearResults();
    clearJobProgress(m_progress);
    m_calibration->clear(); // the last model's calibration text: back to "same as the text"
    if (model && m_unsupported.isEmpty()) {
        m_text->setText(PerplexityRunner::defaultText(*model));
        showMessage(m_text->text().isEmpty()
                        ? tr("Choose a text file to measure the perplexity on (plain UTF-8 text, "
                             "e.g. a few pages of prose).")
                        : tr("Ready: Start measures the perplexity of the model compressed as configured."),
                    false);
    } else {
        showMessage(m_unsupported, model != nullptr);
    }
    m_start->setEnabled(canStart());
    emit readyChanged(m_unsupported.isEmpty());
}

void PerplexityPanel::clearResults()
{
    for (QLabel* l : {m_ppl, m_base, m_kl, m_agreement, m_tokens, m_time, m_size})
        l->setText(tr("—"));
    m_running->clear();
    m_chunks->clear();
    m_maxY = 0;
}

void PerplexityPanel::setTextFile(const QString& path) { m_text->setText(path); }
QString PerplexityPanel::textFile() const { return m_text->text().trimmed(); }
void PerplexityPanel::setCalibrationFile(const QString& path) { m_calibration->setText(path); }
QString PerplexityPanel::calibrationFile() const { return m_calibration->text().trimmed(); }
void PerplexityPanel::setContextLength(int tokens) { m_ctx->setValue(tokens); }
void PerplexityPanel::setMaxChunks(qint64 chunks) { m_maxChunks->setValue(int(chunks)); }
QString PerplexityPanel::message() const { return m_message->text(); }
JobRunner* PerplexityPanel::runner() const { return m_job->runner(); }
bool PerplexityPanel::isBusy() const { return m_jobId != 0 && m_job->runner()->isBusy(); }
bool PerplexityPanel::canStart() const { return m_doc->model() && m_unsupported.isEmpty(); }
int PerplexityPanel::curvePointCount() const { return int(m_running->count()); }

bonsai::PerplexityOptions PerplexityPanel::options() const
{
    bonsai::PerplexityOptions o;
    o.ctx = m_ctx->value();
    o.maxChunks = m_maxChunks->value();
    return o;
}

void PerplexityPanel::start()
{
    if (!canStart()) {
        const QString msg = m_unsupported.isEmpty() ? tr("No model is open.") : m_unsupported;
        showMessage(msg, true);
        emit measureFailed(msg);
        return;
    }
    const QString textPath = textFile();
    if (textPath.isEmpty()) {
        const QString msg = tr("Choose a text file to measure the perplexity on first.");
        showMessage(msg, true);
        emit measureFailed(msg);
        return;
    }
    PerplexityRequest request;
    request.model = m_doc->model();
    request.configs = m_doc->configs();
    request.options = options();
    request.text = textPath;
    request.calibration = calibrationFile();
    const QString label = QString::fromStdString(bonsai::runLabel(request.configs));

    m_result.reset();
    clearResults();
    m_stage.clear();
    showMessage(tr("Measuring the perplexity of %1 on %2…").arg(label, QFileInfo(textPath).fileName()), false);
    m_progress->setValue(0);
    m_progress->setFormat(tr("Starting…"));
    showTab(RunningTab);

    m_jobId = 0; // a cancelled predecessor reports under its own id
    m_jobId = m_job->start(
        request, this, [this](const PerplexityChunks& c) { appendChunks(c); },
        [this, label, configs = request.configs](const std::shared_ptr<bonsai::PerplexityResult>& r) {
            onFinished(r, label, configs);
        });
    setRunning(true);
}

void PerplexityPanel::cancel()
{
    if (m_jobId && m_job->runner()->isBusy())
        m_job->runner()->cancel();
}

void PerplexityPanel::appendChunks(const PerplexityChunks& c)
{
    // Only the current run's reports arrive (PerplexityRunner).
    const std::vector<double>& chunks = c.perplexity;
    const double running = c.running;
    const int ctx = c.ctx;
    const int64_t chunksTotal = c.chunksTotal;
    const QString& stage = c.stage;
    m_stage = stage.isEmpty() ? QString() : stage.left(1).toUpper() + stage.mid(1);
    if (chunks.empty())
        return;
    for (double v : chunks) {
        const double tokens = double(m_chunks->count() + 1) * ctx;
        m_chunks->append(tokens, v);
        m_maxY = std::max(m_maxY, v);
    }
    const double tokens = double(m_chunks->count()) * ctx;
    m_running->append(tokens, running);
    m_maxY = std::max(m_maxY, running);
    for (auto* a : m_chartView->chart()->axes()) {
        auto* v = qobject_cast<QValueAxis*>(a);
        if (!v)
            continue;
        if (a->orientation() == Qt::Horizontal)
            v->setRange(0, double(std::max<int64_t>(chunksTotal, m_chunks->count())) * ctx);
        else
            v->setRange(0, m_maxY > 0 ? m_maxY * 1.1 : 1.0);
        if (a->orientation() == Qt::Vertical)
            v->applyNiceNumbers();
    }
    m_ppl->setText(tr("%1 (running)").arg(running, 0, 'f', 3));
}

void PerplexityPanel::onFinished(const std::shared_ptr<bonsai::PerplexityResult>& r, const QString& label,
                                 const std::vector<bonsai::LayerConfig>& configs)
{
    // The final curve from the result (also covers progress posts the runner dropped).
    m_running->clear();
    m_chunks->clear();
    m_maxY = 0;
    const int ctx = options().ctx;
    double sumLog = 0;
    for (size_t i = 0; i < r->chunkPerplexity.size(); ++i) {
        const double v = r->chunkPerplexity[i];
        sumLog += std::log(std::max(v, 1e-300));
        m_chunks->append(double(i + 1) * ctx, v);
        m_running->append(double(i + 1) * ctx, std::exp(sumLog / double(i + 1)));
        m_maxY = std::max(m_maxY, v);
    }
    if (!r->chunkPerplexity.empty())
        m_running->replace(m_running->count() - 1, QPointF(double(r->chunkPerplexity.size()) * ctx, r->perplexity));
    for (auto* a : m_chartView->chart()->axes())
        if (auto* v = qobject_cast<QValueAxis*>(a)) {
            v->setRange(0, a->orientation() == Qt::Horizontal ? std::max(1.0, double(r->chunkPerplexity.size()) * ctx)
                                                             : std::max(m_maxY, r->perplexity) * 1.1);
            if (a->orientation() == Qt::Vertical)
                v->applyNiceNumbers();
        }
    setRunning(false);
    m_result = r;
    m_label = label;
    showJobDone(m_progress, r->seconds);
    m_ppl->setText(QString::number(r->perplexity, 'f', 3));
    m_base->setText(r->basePerplexity > 0 ? QString::number(r->basePerplexity, 'f', 3) : tr("—"));
    m_kl->setText(tr("%1 nats").arg(r->kl, 0, 'g', 3));
    m_agreement->setText(percentText(r->agreement));
    m_tokens->setText(tr("%1 (%2 chunks)").arg(formatCount(r->tokens)).arg(r->chunks));
    m_time->setText(tr("%1 s").arg(r->seconds, 0, 'f', 2));
    m_size->setText(r->compressedBytes
                        ? tr("%1 → %2 (%3×)").arg(formatBytes(r->originalBytes), formatBytes(r->compressedBytes))
                              .arg(double(r->originalBytes) / double(r->compressedBytes), 0, 'f', 2)
                        : formatBytes(r->originalBytes));
    QString notes;
    for (const auto& n : r->notes)
        notes += QStringLiteral("\n") + QString::fromStdString(n);
    m_ppl->setToolTip(notes.isEmpty() ? m_ppl->toolTip() : tr("Notes:%1").arg(notes));
    showMessage(tr("%1: perplexity %2 (uncompressed %3).")
                    .arg(label, QString::number(r->perplexity, 'f', 3), QString::number(r->basePerplexity, 'f', 3)),
                false);

    const auto& model = m_doc->model();
    if (m_tradeoffs && model) {
        m_tradeoffs->setMetric(TradeoffMetric::Perplexity);
        m_tradeoffs->add(PerplexityRunner::tradeoffPoint(*model, label, configs, *r));
    }
    emit measured(label, *r);
}

void PerplexityPanel::showMessage(const QString& text, bool error) { showPanelMessage(m_message, text, error); }

void PerplexityPanel::setRunning(bool running)
{
    if (!running)
        m_jobId = 0;
    m_start->setEnabled(!running && canStart());
    m_cancel->setEnabled(running);
    for (QWidget* w : {static_cast<QWidget*>(m_text), static_cast<QWidget*>(m_ctx), static_cast<QWidget*>(m_maxChunks),
                       static_cast<QWidget*>(m_calibration)})
        w->setEnabled(!running);
    if (!running && !m_result)
        clearJobProgress(m_progress);
}

} // namespace bonsai::ui
