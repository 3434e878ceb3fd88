#include "evalengine.h"
#include "bonsai/describe.h"

#include "formatting.h"

#include "bonsai/dataset.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QStringList>

#include <algorithm>
#include <map>

namespace bonsai::ui {

static QString tr(const char* s, const char* c = nullptr, int n = -1)
{
    return QCoreApplication::translate("EvalEngine", s, c, n);
}

QString defaultEvalDataset()
{
    const QString dir = QString::fromStdString(bonsai::defaultDatasetPath());
    return QFileInfo::exists(dir) ? dir : QString();
}

QString evaluationUnsupportedReason(const bonsai::Model& model)
{
    if (bonsai::isLanguageModel(model))
        return tr("This is a language model: its quality is measured as perplexity on a text "
                  "(Evaluate > Perplexity…, F6), not as accuracy on a labelled data set.");
    if (model.format == bonsai::Format::Onnx)
        return {};
    return tr("Evaluation runs ONNX classifiers; this %1 checkpoint can be compressed and "
              "inspected but not run.")
        .arg(qstr(bonsai::formatName(model.format)));
}

EvalEngine::EvalEngine(std::shared_ptr<const bonsai::Model> model, EvalSettings settings)
    : m_model(std::move(model)), m_settings(std::move(settings))
{
}

EvalEngine::~EvalEngine() = default;

EvalPrepared EvalEngine::prepare()
{
    if (m_evaluator)
        return m_prepared;
    const QString unsupported = evaluationUnsupportedReason(*m_model);
    if (!unsupported.isEmpty())
        throw bonsai::Error(unsupported.toStdString());
    if (m_settings.dataset.isEmpty())
        throw bonsai::Error(tr("Choose a data set to evaluate on (Fashion-MNIST is not installed: "
                               "apt install dataset-fashion-mnist).").toStdString());
    bonsai::DatasetOptions dopt;
    dopt.split = m_settings.split.toStdString();
    if (!m_data)
        m_data = bonsai::openDataset(m_settings.dataset.toStdString(), dopt);
    bonsai::EvalOptions opt;
    opt.limit = m_settings.limit;
    opt.quickSamples = 1000;
    m_evaluator = std::make_unique<bonsai::Evaluator>(*m_model, *m_data, opt);
    m_prepared.preprocessing = qstr(m_evaluator->preprocess().describe());
    m_prepared.samples = m_evaluator->sampleCount();
    m_prepared.format = qstr(m_data->format());
    m_prepared.dataset = tr("%1, %2 samples, %3 classes")
                             .arg(qstr(m_data->format()), formatCount(uint64_t(m_data->size())))
                             .arg(m_data->numClasses());
    return m_prepared;
}

bonsai::EvalResult EvalEngine::evaluate(const std::vector<bonsai::LayerConfig>& configs,
                                        const bonsai::ProgressFn& progress,
                                        const bonsai::EvalCallback& partial)
{
    prepare();
    return m_evaluator->evaluate(configs, progress, partial);
}

bonsai::EvalResult EvalEngine::reference(const bonsai::ProgressFn& progress)
{
    prepare();
    return m_evaluator->reference(progress);
}

QString summarizeConfigs(const std::vector<bonsai::LayerConfig>& configs)
{
    return qstr(bonsai::configSummary(configs));
}

QString describeConfigs(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs, int maxLines)
{
    QStringList lines;
    int changed = 0;
    for (size_t i = 0; i < configs.size() && i < model.layers.size(); ++i) {
        if (configs[i].isIdentity())
            continue;
        if (++changed <= maxLines)
            lines << QStringLiteral("%1: %2").arg(qstr(model.layers[i].name), qstr(bonsai::describe(configs[i])));
    }
    if (changed > maxLines)
        lines << tr("… and %n more layers", nullptr, changed - maxLines);
    if (lines.isEmpty())
        lines << tr("every layer uncompressed");
    return lines.join(QLatin1Char('\n'));
}

} // namespace bonsai::ui
