// EvalPanel: the jobs (checking the data set, evaluating) and showing their results.
#include "evalpanel.h"

#include "compressiondocument.h"
#include "evalcharts.h"
#include "evalengine.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/model.h"

#include <QCheckBox>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>

namespace bonsai::ui {

void EvalPanel::connectJobs()
{
    connect(m_runner, &JobRunner::progress, this, [this](quint64 id, double f, double eta) {
        if (id != m_evalJob)
            return;
        showJobProgress(m_progress, tr("Evaluating"), f, eta);
    });
    connect(m_runner, &JobRunner::failed, this, [this](quint64 id, const QString& msg) {
        if (id == m_evalJob)
            setRunning(false);
        else
            m_preprocess->setText(tr("—"));
        showMessage(msg, true);
        emit evaluationFailed(msg);
    });
    connect(m_runner, &JobRunner::cancelled, this, [this](quint64 id) {
        if (id != m_evalJob || m_starting)
            return; // superseded by a newer request: that one reports
        setRunning(false);
        showMessage(tr("Evaluation cancelled."), false);
    });
}

bool EvalPanel::isBusy() const { return m_evalJob != 0 && m_runner->isBusy(); }
bool EvalPanel::canEvaluate() const { return m_ready; }

void EvalPanel::onModelReset()
{
    m_debounce.stop();
    m_runner->cancel();
    m_evalJob = 0;
    m_engine.reset();
    m_tradeoffs->clear();
    m_tradeoffs->setCurrentConfigs(m_doc->configs());
    m_hasResult = false;
    m_samples = 0;
    for (QLabel* l : {m_top1, m_top5, m_agreement, m_kl, m_size, m_time, m_preprocess})
        l->setText(tr("—"));
    m_layerErrors->setErrors({}, tr("Evaluate a compressed configuration to see each layer's output error here."));
    m_running->start(0);
    setRunning(false);
    const auto& model = m_doc->model();
    const QString reason = model ? evaluationUnsupportedReason(*model) : tr("Open an ONNX classifier to evaluate it.");
    m_ready = reason.isEmpty();
    m_evaluate->setEnabled(m_ready);
    m_auto->setEnabled(m_ready);
    showMessage(reason, false);
    emit readyChanged(m_ready);
    if (m_ready)
        prepare();
}

void EvalPanel::onSettingsEdited()
{
    if (m_engine && m_engine->settings() == settings())
        return;
    m_runner->cancel();
    m_evalJob = 0;
    m_engine.reset();
    m_tradeoffs->clear(); // accuracies on other data are not comparable
    if (m_ready)
        prepare();
}

void EvalPanel::prepare()
{
    m_engine = std::make_shared<EvalEngine>(m_doc->model(), settings());
    m_preprocess->setText(tr("checking the data set…"));
    showMessage(QString(), false);
    auto engine = m_engine;
    m_evalJob = 0;
    m_runner->start<EvalPrepared>(
        tr("Checking the data set"), [engine](JobControl&) { return engine->prepare(); }, this,
        [this](const EvalPrepared& p) { onPrepared(p); });
}

void EvalPanel::onPrepared(const EvalPrepared& p)
{
    m_samples = p.samples;
    m_preprocess->setText(p.preprocessing);
    if (!isBusy() && !m_hasResult)
        showMessage(tr("Ready: %1; %2 samples per evaluation.").arg(p.dataset, formatCount(uint64_t(p.samples))), false);
}

void EvalPanel::evaluate()
{
    m_debounce.stop();
    if (!m_ready) {
        emit evaluationFailed(message());
        return;
    }
    if (!m_engine || !(m_engine->settings() == settings()))
        onSettingsEdited();
    const std::vector<bonsai::LayerConfig> configs = m_doc->configs();
    for (int row = 0; row < m_tradeoffs->rowCount(); ++row) {
        const TradeoffPoint& p = m_tradeoffs->point(row);
        if (p.configs != configs)
            continue;
        m_runner->cancel(); // an older configuration may be running
        onFinished(p);      // evaluation is deterministic: show the row again
        return;
    }
    auto engine = m_engine;
    QPointer<EvalPanel> self(this);
    m_starting = true;
    m_evalJob = m_runner->start<bonsai::EvalResult>(
        tr("Evaluating"),
        [engine, configs, self](JobControl& c) {
            const EvalPrepared prepared = engine->prepare();
            c.post([self, prepared] {
                if (self)
                    self->onPrepared(prepared);
            });
            const bonsai::EvalResult ref = engine->reference();
            c.post([self, ref] {
                if (self)
                    self->m_tradeoffChart->setReference(ref);
            });
            return engine->evaluate(configs, [&c](double f) { return c.progress(f); },
                                    [&c, self](const bonsai::EvalResult& partial) {
                                        c.post([self, partial] {
                                            if (self)
                                                self->onPartial(partial);
                                        });
                                    });
        },
        this,
        [this, configs](const bonsai::EvalResult& r) {
            TradeoffPoint p;
            p.label = tr("#%1 %2").arg(m_tradeoffs->rowCount() + 1).arg(summarizeConfigs(configs));
            p.details = describeConfigs(*m_doc->model(), configs);
            p.configs = configs;
            p.result = r;
            m_tradeoffs->add(p);
            onFinished(p);
        });
    m_starting = false;
    m_running->start(m_samples);
    showJobProgress(m_progress, tr("Evaluating"), 0, -1);
    setRunning(true);
    showMessage(tr("Evaluating %1…").arg(summarizeConfigs(configs)), false);
}

void EvalPanel::cancel()
{
    m_debounce.stop();
    m_runner->cancel();
}

void EvalPanel::restore(int row)
{
    if (row < 0 || row >= m_tradeoffs->rowCount())
        return;
    const TradeoffPoint& p = m_tradeoffs->point(row);
    if (int(p.configs.size()) != m_doc->layerCount())
        return;
    QList<int> all;
    for (int i = 0; i < m_doc->layerCount(); ++i)
        all << i;
    m_doc->setConfigs(all, p.configs, tr("Restore %1").arg(p.label));
}

void EvalPanel::onPartial(const bonsai::EvalResult& r)
{
    m_running->addPartial(r);
    showResult(r, true);
}

void EvalPanel::onFinished(const TradeoffPoint& p)
{
    m_evalJob = 0;
    setRunning(false);
    m_last = p.result;
    m_hasResult = true;
    showResult(p.result, false);
    m_layerErrors->setErrors(p.result.layerErrors,
                             tr("No layer is compressed: every output equals the uncompressed model's."));
    showMessage(tr("Evaluated %1 on %2 samples.").arg(p.label, formatCount(uint64_t(p.result.samples))), false);
    emit evaluated(p.result);
}

void EvalPanel::showResult(const bonsai::EvalResult& r, bool running)
{
    const auto& m = r.metrics;
    m_top1->setText(tr("%1 (95% CI %2 – %3)")
                        .arg(percentText(m.top1), percentText(m.top1Ci.lo), percentText(m.top1Ci.hi)));
    m_top5->setText(m.classes <= 5 ? tr("%1 (≤ 5 classes: always)").arg(percentText(m.top5)) : percentText(m.top5));
    m_agreement->setText(tr("%1 same top class as uncompressed").arg(percentText(m.agreement)));
    m_kl->setText(tr("%1 nats").arg(m.meanKl, 0, 'g', 3));
    const double ratio = r.compressedBytes ? double(r.originalBytes) / double(r.compressedBytes) : 0;
    m_size->setText(tr("%1 → %2 (%3× smaller)")
                        .arg(formatBytes(r.originalBytes), formatBytes(r.compressedBytes))
                        .arg(ratio, 0, 'f', 2));
    m_time->setText(running ? tr("%1 s so far · %2 of %3 samples")
                                  .arg(r.seconds, 0, 'f', 2)
                                  .arg(formatCount(uint64_t(r.samples)), formatCount(uint64_t(r.total)))
                            : tr("%1 s for %2 samples").arg(r.seconds, 0, 'f', 2).arg(formatCount(uint64_t(r.samples))));
}

void EvalPanel::showMessage(const QString& text, bool error)
{
    m_message->setText(text);
    m_message->setVisible(!text.isEmpty());
    QPalette pal = palette();
    if (error)
        pal.setColor(QPalette::WindowText, QColor(176, 0, 32));
    m_message->setPalette(pal);
}

void EvalPanel::setRunning(bool running)
{
    m_cancel->setEnabled(running);
    m_progress->setVisible(running);
    emit runningChanged(running);
}

} // namespace bonsai::ui
