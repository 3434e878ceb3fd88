#include "recoverpanel.h"

#include "chartutil.h"
#include "compressiondocument.h"
#include "bonsai/model.h"
#include "evalengine.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"
#include "recoveryrunner.h"

#include "bonsai/dataset.h"
#include "bonsai/error.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStringList>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>

namespace bonsai::ui {

RecoverPanel::RecoverPanel(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_job(new RecoveryRunner(this))
{
    buildUi();
    const QString data = defaultEvalDataset();
    m_train->setText(data);
    connect(m_doc, &CompressionDocument::modelReset, this, &RecoverPanel::onModelReset);
    connect(m_doc, &CompressionDocument::configChanged, this, &RecoverPanel::updateNote);
    connectCurrentJob(m_job->runner(), this, m_jobId,
                      {.progress = [this](double f, double eta) { showJobProgress(m_progress, tr("Training"), f, eta); },
                       .failed = [this](const QString& msg) {
                           setRunning(false);
                           restorePrevious();
                           showMessage(msg, true);
                           emit recoverFailed(msg);
                       },
                       .cancelled = [this] {
                           setRunning(false);
                           showMessage(restorePrevious()
                                           ? tr("Recovery cancelled; the previous result (%1) is kept and can be saved.").arg(m_label)
                                           : tr("Recovery cancelled."),
                                       false);
                       }});
    onModelReset();
}

RecoverPanel::~RecoverPanel()
{
    disconnect(m_job->runner(), nullptr, this, nullptr);
    m_job->runner()->cancel();
    m_job->runner()->waitForIdle();
}

void RecoverPanel::buildUi()
{
    auto* settings = new QWidget(this);
    settings->setMaximumWidth(400);
    auto* form = new QFormLayout(settings);
    // In a narrow side dock a field goes below its label rather than widening the dock.
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    form->setContentsMargins(0, 0, 0, 0);

    m_train = new QLineEdit(settings);
    m_train->setPlaceholderText(tr("IDX, .npz, .npy file or MNIST folder"));
    m_train->setToolTip(tr("The labelled data the model trains on; for an MNIST-style folder its "
                           "train-* files are used (Fashion-MNIST when installed)."));
    auto* browse = new QPushButton(tr("Browse…"), settings);
    browse->setToolTip(tr("Choose the training data file."));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Training Data"), m_train->text());
        if (!f.isEmpty())
            m_train->setText(f);
    });
    form->addRow(tr("Train data:"), pathRow(m_train, browse));
    m_test = new QLineEdit(settings);
    m_test->setPlaceholderText(tr("same folder, test split"));
    m_test->setToolTip(tr("The held-out data the accuracy before and after is measured on; empty "
                          "uses the training folder's t10k-* (test) files."));
    form->addRow(tr("Test data:"), m_test);

    m_method = new QComboBox(settings);
    m_method->addItem(tr("Fine-tune"), int(bonsai::RecoverMethod::Finetune));
    m_method->addItem(tr("Quantization-aware training (QAT)"), int(bonsai::RecoverMethod::Qat));
    m_method->addItem(tr("Knowledge distillation"), int(bonsai::RecoverMethod::Distill));
    m_method->addItem(tr("Lottery ticket (iterative pruning)"), int(bonsai::RecoverMethod::Lottery));
    m_method->setItemData(0, tr("Keep training the compressed weights as float values (pruned weights "
                                "stay zero) so the rest of the network adapts to what was removed; "
                                "a quantizing configuration is applied again after training."), Qt::ToolTipRole);
    m_method->setItemData(1, tr("Train with the quantization simulated in the forward pass, so the "
                                "weights learn values that survive rounding."), Qt::ToolTipRole);
    m_method->setItemData(2, tr("Train the compressed model, its quantization simulated as in QAT, to "
                                "imitate the softened outputs of the uncompressed model (the teacher), "
                                "not just the labels."), Qt::ToolTipRole);
    m_method->setItemData(3, tr("Prune the smallest weights a little at a time, rewind the survivors "
                                "to their starting values and retrain after each round."), Qt::ToolTipRole);
    m_method->setToolTip(tr("How the accuracy lost to compression is won back by a short training run."));
    form->addRow(tr("Method:"), m_method);
    m_note = new QLabel(settings);
    m_note->setWordWrap(true);
    m_note->setVisible(false);
    m_note->setToolTip(tr("What the chosen method does with the compression as configured."));
    form->addRow(m_note);

    m_epochs = new QSpinBox(settings);
    m_epochs->setRange(1, 1000);
    m_epochs->setValue(1);
    m_epochs->setToolTip(tr("How many passes over the training data each training run makes."));
    m_lr = new QDoubleSpinBox(settings);
    m_lr->setDecimals(6);
    m_lr->setRange(1e-6, 1.0);
    m_lr->setSingleStep(1e-4);
    m_lr->setValue(1e-4);
    m_lr->setToolTip(tr("The Adam step size: larger learns faster but can undo what the model "
                        "already knows."));
    auto* row = new QHBoxLayout;
    row->addWidget(m_epochs);
    row->addWidget(new QLabel(tr("Learning rate:"), settings));
    row->addWidget(m_lr, 1);
    form->addRow(tr("Epochs:"), row);

    m_temperature = new QDoubleSpinBox(settings);
    m_temperature->setRange(0.1, 100);
    m_temperature->setValue(4.0);
    m_temperature->setToolTip(tr("Distillation temperature T: higher values soften the teacher's "
                                 "probabilities so the student also learns which wrong classes are close."));
    m_alpha = new QDoubleSpinBox(settings);
    m_alpha->setRange(0, 1);
    m_alpha->setSingleStep(0.1);
    m_alpha->setValue(0.7);
    m_alpha->setToolTip(tr("Distillation weight α: the share of the loss that imitates the teacher; "
                           "the rest is the usual cross-entropy with the labels."));
    row = new QHBoxLayout;
    row->addWidget(m_temperature);
    row->addWidget(new QLabel(tr("α:"), settings));
    row->addWidget(m_alpha, 1);
    form->addRow(tr("Temperature T:"), row);

    m_rounds = new QSpinBox(settings);
    m_rounds->setRange(1, 100);
    m_rounds->setValue(3);
    m_rounds->setToolTip(tr("Lottery ticket: in how many prune-rewind-retrain rounds the target "
                            "sparsity is reached."));
    m_sparsity = new QDoubleSpinBox(settings);
    m_sparsity->setRange(0, 99.9);
    m_sparsity->setSuffix(QStringLiteral(" %"));
    m_sparsity->setValue(80);
    m_sparsity->setToolTip(tr("Lottery ticket: the fraction of all weights pruned (set to zero) "
                              "after the last round."));
    row = new QHBoxLayout;
    row->addWidget(m_rounds);
    row->addWidget(new QLabel(tr("Target sparsity:"), settings));
    row->addWidget(m_sparsity, 1);
    form->addRow(tr("Rounds:"), row);

    m_limit = new QSpinBox(settings);
    m_limit->setRange(0, 100000000);
    m_limit->setSingleStep(1000);
    m_limit->setSpecialValueText(tr("all samples"));
    m_limit->setSuffix(tr(" samples"));
    m_limit->setValue(10000);
    m_limit->setToolTip(tr("Train only on the first N samples: faster, but the model sees less data."));
    m_testLimit = new QSpinBox(settings);
    m_testLimit->setRange(0, 100000000);
    m_testLimit->setSingleStep(1000);
    m_testLimit->setSpecialValueText(tr("all samples"));
    m_testLimit->setSuffix(tr(" samples"));
    m_testLimit->setValue(2000);
    m_testLimit->setToolTip(tr("Measure the accuracies on only the first N test samples (faster, "
                               "less precise)."));
    form->addRow(tr("Train limit:"), m_limit);
    form->addRow(tr("Test limit:"), m_testLimit);

    const JobButtons buttons =
        makeJobButtons(tr("Train the model, compressed as configured, with the chosen method."),
                       tr("Stop the training run; nothing is kept."), settings);
    m_start = buttons.start;
    m_cancel = buttons.cancel;
    m_save = new QPushButton(tr("Save recovered model…"), settings);
    m_save->setToolTip(tr("Write the ONNX model with the recovered (and compressed) weights."));
    m_save->setEnabled(false);
    buttons.row->addWidget(m_save);
    form->addRow(buttons.row);
    connect(m_start, &QPushButton::clicked, this, &RecoverPanel::start);
    connect(m_cancel, &QPushButton::clicked, this, &RecoverPanel::cancel);
    connect(m_save, &QPushButton::clicked, this, &RecoverPanel::saveDialog);
    connect(m_method, &QComboBox::currentIndexChanged, this, &RecoverPanel::onMethodChanged);

    m_progress = makeJobProgressBar(tr("Progress of the training run, with an estimate of the time left."), settings);
    form->addRow(m_progress);
    m_message = makeMessageLabel(settings);
    form->addRow(m_message);
    m_accuracy = new QLabel(tr("—"), settings);
    m_accuracy->setToolTip(tr("Test accuracy of the compressed model without training (before) "
                              "and after the recovery run."));
    form->addRow(tr("Accuracy:"), m_accuracy);

    auto* chart = new QChart;
    chart->setTitle(tr("Training curves (per epoch)"));
    m_loss = new QLineSeries(chart);
    m_loss->setName(tr("loss"));
    m_trainAcc = new QLineSeries(chart);
    m_trainAcc->setName(tr("train accuracy %"));
    m_testAcc = new QLineSeries(chart);
    m_testAcc->setName(tr("test accuracy %"));
    for (auto* s : {m_loss, m_trainAcc, m_testAcc}) {
        s->setPointsVisible(true);
        chart->addSeries(s);
    }
    auto* x = new QValueAxis(chart);
    x->setTitleText(tr("epoch"));
    x->setLabelFormat(QStringLiteral("%d"));
    auto* yLoss = new QValueAxis(chart);
    yLoss->setTitleText(tr("loss"));
    auto* yAcc = new QValueAxis(chart);
    yAcc->setTitleText(tr("accuracy (%)"));
    yAcc->setRange(0, 100);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(yLoss, Qt::AlignLeft);
    chart->addAxis(yAcc, Qt::AlignRight);
    for (auto* s : {m_loss, m_trainAcc, m_testAcc})
        s->attachAxis(x);
    m_loss->attachAxis(yLoss);
    m_trainAcc->attachAxis(yAcc);
    m_testAcc->attachAxis(yAcc);
    wrapLegendBelow(chart); // whole entries in a 1366-px screen's side dock
    m_chartView = new QChartView(chart, this);
    m_chartView->setRenderHint(QPainter::Antialiasing);
    m_chartView->setMinimumSize(280, 200); // fits a 1366-px screen's side dock with its scroll bar
    m_chartView->setToolTip(tr("Mean training loss and the accuracies after every epoch: the loss "
                               "should fall and the accuracy rise as the model recovers."));

    auto* layout = new QHBoxLayout(this);
    layout->addWidget(settings);
    layout->addWidget(m_chartView, 1);
    onMethodChanged();
}

void RecoverPanel::onMethodChanged()
{
    const auto m = bonsai::RecoverMethod(m_method->currentData().toInt());
    m_temperature->setEnabled(m == bonsai::RecoverMethod::Distill);
    m_alpha->setEnabled(m == bonsai::RecoverMethod::Distill);
    m_rounds->setEnabled(m == bonsai::RecoverMethod::Lottery);
    m_sparsity->setEnabled(m == bonsai::RecoverMethod::Lottery);
    updateNote();
}

void RecoverPanel::updateNote()
{
    QStringList notes;
    for (const auto& n : bonsai::recoverNotes(bonsai::RecoverMethod(m_method->currentData().toInt()), m_doc->configs()))
        notes << tr("Note: %1.").arg(QString::fromStdString(n));
    m_note->setText(notes.join(QLatin1Char('\n')));
    m_note->setVisible(!notes.isEmpty());
}

QString RecoverPanel::note() const { return m_note->text(); }

void RecoverPanel::onModelReset()
{
    if (m_jobId) {
        cancel();
        setRunning(false); // its cancelled() is ignored: this reset reports
    }
    const auto& model = m_doc->model();
    m_unsupported = RecoveryRunner::unsupportedReason(model.get());
    if (!m_unsupported.isEmpty())
        showMessage(m_unsupported, true);
    else if (model)
        showMessage(tr("Ready: Start trains the model compressed as configured."), false);
    else
        showMessage(tr("Open an ONNX classifier to recover its accuracy after compression."), false);
    m_result.reset();
    m_resultModel.reset();
    m_resultConfigs.clear();
    m_label.clear();
    m_save->setEnabled(false);
    m_accuracy->setText(tr("—"));
    for (auto* s : {m_loss, m_trainAcc, m_testAcc})
        s->clear();
    clearJobProgress(m_progress);
    m_start->setEnabled(canStart());
    updateNote();
    emit readyChanged(canStart(), unsupportedReason());
}

void RecoverPanel::setTrainData(const QString& path) { m_train->setText(path); }
void RecoverPanel::setTestData(const QString& path) { m_test->setText(path); }
QString RecoverPanel::trainData() const { return m_train->text(); }
void RecoverPanel::setMethod(bonsai::RecoverMethod method) { m_method->setCurrentIndex(m_method->findData(int(method))); }
void RecoverPanel::setEpochs(int epochs) { m_epochs->setValue(epochs); }
void RecoverPanel::setLearningRate(double lr) { m_lr->setValue(lr); }
void RecoverPanel::setTrainLimit(qint64 samples) { m_limit->setValue(int(samples)); }
void RecoverPanel::setTestLimit(qint64 samples) { m_testLimit->setValue(int(samples)); }
void RecoverPanel::setMaxSteps(qint64 steps) { m_steps = steps; }
QString RecoverPanel::message() const { return m_message->text(); }
bool RecoverPanel::isBusy() const { return m_jobId != 0 && m_job->runner()->isBusy(); }
JobRunner* RecoverPanel::runner() const { return m_job->runner(); }
bool RecoverPanel::canStart() const { return m_doc->model() && m_unsupported.isEmpty(); }
QString RecoverPanel::unsupportedReason() const
{
    return m_doc->model() ? m_unsupported : tr("Open an ONNX classifier to recover its accuracy.");
}
int RecoverPanel::curvePointCount() const { return int(m_loss->count()); }

bonsai::RecoverOptions RecoverPanel::options() const
{
    bonsai::RecoverOptions o;
    o.method = bonsai::RecoverMethod(m_method->currentData().toInt());
    o.epochs = m_epochs->value();
    o.steps = m_steps;
    o.lr = m_lr->value();
    o.temperature = m_temperature->value();
    o.alpha = m_alpha->value();
    o.rounds = m_rounds->value();
    o.targetSparsity = m_sparsity->value() / 100.0;
    o.limit = m_limit->value();
    o.evalLimit = m_testLimit->value();
    return o;
}

void RecoverPanel::start()
{
    if (!canStart()) {
        const QString msg = m_unsupported.isEmpty() ? tr("No model is open.") : m_unsupported;
        showMessage(msg, true);
        emit recoverFailed(msg);
        return;
    }
    const QString trainPath = m_train->text().trimmed();
    if (trainPath.isEmpty()) {
        const QString msg = tr("Choose the training data first.");
        showMessage(msg, true);
        emit recoverFailed(msg);
        return;
    }
    RecoveryRequest request;
    request.model = m_doc->model();
    request.configs = m_doc->configs();
    request.options = options();
    request.train = trainPath;
    request.test = m_test->text().trimmed().isEmpty() ? trainPath : m_test->text().trimmed();
    const QString label = RecoveryRunner::describeRun(request.options);

    // The previous result stays saveable until this run replaces it (restorePrevious() shows
    // it again when this one is cancelled or fails); only its display is cleared.
    m_save->setEnabled(false);
    m_accuracy->setText(tr("—"));
    for (auto* s : {m_loss, m_trainAcc, m_testAcc})
        s->clear();
    showMessage(tr("Training: %1…").arg(label), false);
    showJobProgress(m_progress, tr("Training"), 0, -1);
    m_jobId = 0; // a cancelled predecessor reports under its own id
    m_jobId = m_job->start(
        request, this, [this](const bonsai::RecoverEpoch& e) { appendEpoch(e); },
        [this, label, model = request.model, configs = request.configs](const std::shared_ptr<bonsai::RecoverResult>& r) {
            m_resultModel = model;
            m_resultConfigs = configs;
            onFinished(r, label);
        });
    setRunning(true);
}

bool RecoverPanel::restorePrevious()
{
    if (!m_result || !m_resultModel || m_resultModel != m_doc->model())
        return false;
    showResult();
    return true;
}

void RecoverPanel::showResult()
{
    showJobDone(m_progress, m_result->seconds);
    m_accuracy->setText(tr("%1 before → %2 after").arg(percentText(m_result->accuracyBefore), percentText(m_result->accuracyAfter)));
    showCurves(*m_result);
    m_save->setEnabled(true);
}

void RecoverPanel::cancel()
{
    if (m_jobId && m_job->runner()->isBusy())
        m_job->runner()->cancel();
}

void RecoverPanel::onFinished(const std::shared_ptr<bonsai::RecoverResult>& r, const QString& label)
{
    setRunning(false);
    m_result = r;
    m_label = label;
    showResult();
    showMessage(tr("%1: accuracy %2 → %3.").arg(label, percentText(r->accuracyBefore), percentText(r->accuracyAfter)), false);
    emit recovered(label, *r);
}

void RecoverPanel::appendEpoch(const bonsai::RecoverEpoch& e)
{
    // Only the current run's epochs arrive (RecoveryRunner).
    const int i = static_cast<int>(m_loss->count()) + 1;
    m_loss->append(i, e.loss);
    m_trainAcc->append(i, 100 * e.trainAccuracy);
    if (e.testAccuracy >= 0)
        m_testAcc->append(i, 100 * e.testAccuracy);
    double maxLoss = 0;
    for (const QPointF& p : m_loss->points())
        maxLoss = std::max(maxLoss, p.y());
    rescale(i, maxLoss);
}

void RecoverPanel::rescale(int epochs, double maxLoss)
{
    for (auto* a : m_chartView->chart()->axes()) {
        auto* v = qobject_cast<QValueAxis*>(a);
        if (!v)
            continue;
        if (a->orientation() == Qt::Horizontal)
            v->setRange(0, std::max(1, epochs));
        else if (a->alignment() == Qt::AlignLeft)
            v->setRange(0, maxLoss > 0 ? maxLoss * 1.1 : 1.0);
    }
}

void RecoverPanel::showCurves(const bonsai::RecoverResult& r)
{
    for (auto* s : {m_loss, m_trainAcc, m_testAcc})
        s->clear();
    double maxLoss = 0;
    int i = 0;
    for (const auto& e : r.epochs) {
        ++i;
        m_loss->append(i, e.loss);
        m_trainAcc->append(i, 100 * e.trainAccuracy);
        if (e.testAccuracy >= 0)
            m_testAcc->append(i, 100 * e.testAccuracy);
        maxLoss = std::max(maxLoss, e.loss);
    }
    rescale(i, maxLoss);
}

void RecoverPanel::showMessage(const QString& text, bool error) { showPanelMessage(m_message, text, error); }

void RecoverPanel::setRunning(bool running)
{
    if (!running)
        m_jobId = 0;
    m_start->setEnabled(!running && canStart());
    m_cancel->setEnabled(running);
    if (!running && !m_result)
        clearJobProgress(m_progress);
}

bool RecoverPanel::saveRecovered(const QString& path, QString* error)
{
    if (!m_result || !m_resultModel) {
        if (error)
            *error = tr("Nothing recovered yet.");
        return false;
    }
    return RecoveryRunner::save(*m_resultModel, *m_result, path, error);
}

void RecoverPanel::saveDialog()
{
    const QString model = m_doc->model() ? QString::fromStdString(m_doc->model()->path) : QString();
    const QString path = QFileDialog::getSaveFileName(this, tr("Save Recovered Model"),
                                                      suggestedSavePath(model, QStringLiteral("-recovered.onnx")),
                                                      tr("ONNX models (*.onnx)"));
    if (path.isEmpty())
        return;
    QString error;
    if (saveRecovered(path, &error))
        showMessage(tr("Saved %1.").arg(QFileInfo(path).fileName()), false);
    else
        showMessage(error, true);
}

} // namespace bonsai::ui
