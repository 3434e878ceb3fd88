#include "recoveryrunner.h"

#include "evalengine.h"
#include "formatting.h"
#include "jobrunner.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/model.h"
#include "bonsai/train.h"

#include <QStringList>

#include <algorithm>

namespace bonsai::ui {

RecoveryRunner::RecoveryRunner(QObject* parent) : QObject(parent), m_runner(new JobRunner(this)) {}

RecoveryRunner::~RecoveryRunner()
{
    m_runner->cancel();
    m_runner->waitForIdle();
}

quint64 RecoveryRunner::start(const RecoveryRequest& request, QObject* receiver, Epoch epoch, Done done)
{
    std::function<std::shared_ptr<bonsai::RecoverResult>(JobControl&)> work =
        [model = request.model, configs = request.configs, options = request.options, epoch = std::move(epoch),
         train = request.train.toStdString(), test = request.test.toStdString()](JobControl& c) {
            bonsai::RecoverOptions opts = options;
            if (epoch) // live curves: each epoch is posted to this thread, current job only
                opts.onEpoch = [&c, epoch](const bonsai::RecoverEpoch& e) { c.post([epoch, e] { epoch(e); }); };
            bonsai::DatasetOptions trainOpts, testOpts;
            trainOpts.split = "train";
            testOpts.split = "test";
            const auto trainData = bonsai::openDataset(train, trainOpts);
            const auto testData = bonsai::openDataset(test, testOpts);
            return std::make_shared<bonsai::RecoverResult>(bonsai::recover(
                *model, configs, *trainData, *testData, opts, [&c](double f) { return c.progress(f); }));
        };
    return m_runner->start<std::shared_ptr<bonsai::RecoverResult>>(tr("Recover"), std::move(work), receiver,
                                                                    std::move(done));
}

static QString methodTitle(bonsai::RecoverMethod m)
{
    switch (m) {
    case bonsai::RecoverMethod::Finetune: return RecoveryRunner::tr("Fine-tune");
    case bonsai::RecoverMethod::Qat: return RecoveryRunner::tr("QAT");
    case bonsai::RecoverMethod::Distill: return RecoveryRunner::tr("Distillation");
    case bonsai::RecoverMethod::Lottery: return RecoveryRunner::tr("Lottery ticket");
    }
    return {};
}

QString RecoveryRunner::describeRun(const bonsai::RecoverOptions& o)
{
    QString s = methodTitle(o.method) + QLatin1Char(' ');
    if (o.method == bonsai::RecoverMethod::Lottery)
        s += (o.rounds == 1 ? tr("1 round × ") : tr("%1 rounds × ").arg(o.rounds));
    s += o.epochs == 1 ? tr("1 epoch") : tr("%1 epochs").arg(o.epochs);
    if (o.steps > 0)
        s += tr(" (≤ %1 steps)").arg(o.steps);
    if (o.method == bonsai::RecoverMethod::Distill)
        s += tr(", T %1, α %2").arg(o.temperature).arg(o.alpha);
    if (o.method == bonsai::RecoverMethod::Lottery)
        s += tr(", %1 sparse").arg(formatPercent(o.targetSparsity, 0));
    return s;
}

QString RecoveryRunner::unsupportedReason(const bonsai::Model* model)
{
    if (!model)
        return {};
    if (model->format != bonsai::Format::Onnx)
        return tr("Recovery trains ONNX classifiers; this %1 checkpoint can be compressed and inspected but "
                  "not trained.")
            .arg(qstr(bonsai::formatName(model->format)));
    // Plans the forward and backward passes (no weights are read): what the trainer would refuse.
    try {
        const std::vector<std::string> ops = bonsai::Trainer::unsupportedOps(*model);
        if (!ops.empty()) {
            QStringList names;
            for (const auto& op : ops)
                names << qstr(op);
            return tr("Recovery cannot train this model: no backward pass for %1.").arg(names.join(QStringLiteral(", ")));
        }
    } catch (const std::exception& e) {
        return tr("Recovery cannot train this model: %1.").arg(errorText(e));
    }
    return {};
}

bool RecoveryRunner::save(const bonsai::Model& model, const bonsai::RecoverResult& result, const QString& path,
                          QString* error)
{
    try {
        bonsai::writeRecovered(model, result, path.toStdString());
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = errorText(e);
        return false;
    }
}

TradeoffPoint RecoveryRunner::tradeoffPoint(const bonsai::Model& model, const QString& label,
                                            std::vector<bonsai::LayerConfig> configs,
                                            const bonsai::RecoverResult& r, uint64_t estimatedBytes,
                                            const std::vector<TradeoffPoint>& known)
{
    TradeoffPoint p;
    p.label = label;
    p.configs = std::move(configs);
    if (r.method == bonsai::RecoverMethod::Lottery && p.configs.size() == model.layers.size()) {
        // The ticket replaces the recipe's sparsity: each layer is stored with the mask it
        // ended with (its own fraction of zeros, unstructured).
        for (size_t i = 0; i < p.configs.size(); ++i) {
            const auto& name = model.tensors[static_cast<size_t>(model.layers[i].weight)].name;
            const auto it = r.weights.find(name);
            if (it == r.weights.end() || it->second.empty())
                continue;
            const auto zeros = std::count(it->second.begin(), it->second.end(), 0.0f);
            p.configs[i].pattern = bonsai::SparsityPattern::Unstructured;
            p.configs[i].scope = bonsai::SparsityScope::Layer;
            p.configs[i].sparsity = std::min(0.999999, static_cast<double>(zeros) / static_cast<double>(it->second.size()));
        }
        p.result.compressedBytes = bonsai::compressModel(model, p.configs).compressedBytes; // small models only
    }
    p.details = describeConfigs(model, p.configs);
    p.result.metrics.top1 = r.accuracyAfter;
    p.result.complete = true;
    p.result.seconds = r.seconds;
    p.result.originalBytes = model.totalBytes();
    if (r.method != bonsai::RecoverMethod::Lottery)
        p.result.compressedBytes = estimatedBytes;
    for (const auto& k : known)
        if (k.configs == p.configs) // the evaluator's size for this configuration
            p.result.compressedBytes = k.result.compressedBytes;
    return p;
}

} // namespace bonsai::ui
