#include "speedrunner.h"

#include "formatting.h"
#include "jobrunner.h"

#include "bonsai/describe.h"
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"

#include <algorithm>
#include <unistd.h>

namespace bonsai::ui {

SpeedRunner::SpeedRunner(QObject* parent) : QObject(parent), m_runner(new JobRunner(this))
{
    m_runner->setExclusive(true); // measured with no other job's threads on the cores
}

SpeedRunner::~SpeedRunner()
{
    m_runner->cancel();
    m_runner->waitForIdle();
}

quint64 SpeedRunner::start(const SpeedRequest& request, QObject* receiver, Stage stage, Done done)
{
    const bool compressed = std::any_of(request.configs.begin(), request.configs.end(),
                                        [](const bonsai::LayerConfig& c) { return !c.isIdentity(); });
    std::function<SpeedComparison(JobControl&)> work = [model = request.model, configs = request.configs,
                                                        options = request.options, compressed,
                                                        stage = std::move(stage)](JobControl& c) {
        SpeedComparison out;
        out.configs = configs;
        out.label = QString::fromStdString(bonsai::runLabel(configs));
        out.originalSkipped = compressed ? originalTooLarge(*model, physicalMemoryBytes()) : QString();
        const bool original = out.originalSkipped.isEmpty();
        const double share = original && compressed ? 0.5 : 1.0;
        auto phase = [&c, share](double from) {
            return [&c, from, share](double f) { return c.progress(from + share * f); };
        };
        if (original) {
            if (stage)
                c.post([stage] { stage(tr("Measuring the original model")); });
            out.original = std::make_shared<bonsai::SpeedResult>(bonsai::measureSpeed(*model, {}, options, phase(0)));
            out.configured = out.original;
        }
        if (compressed) {
            if (stage)
                c.post([stage] { stage(tr("Measuring the configured model")); });
            out.configured = std::make_shared<bonsai::SpeedResult>(
                bonsai::measureSpeed(*model, configs, options, phase(original ? 0.5 : 0)));
        }
        return out;
    };
    return m_runner->start<SpeedComparison>(tr("Speed"), std::move(work), receiver, std::move(done));
}

uint64_t SpeedRunner::physicalMemoryBytes()
{
    const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

QString SpeedRunner::originalTooLarge(const bonsai::Model& model, uint64_t physicalBytes)
{
    if (!bonsai::isLanguageModel(model) || physicalBytes == 0)
        return {};
    uint64_t bytes = 0;
    for (const bonsai::Layer& l : model.layers) {
        const bonsai::TensorInfo& t = model.tensors[size_t(l.weight)];
        bytes += bonsai::PackedMatrix::viewable(t.dtype) && !t.dequant ? t.storedBytes() : t.numel * sizeof(float);
    }
    if (bytes <= physicalBytes / 2)
        return {};
    return tr("The uncompressed model was not measured: its weights as the decoder runs them (%1) would "
              "take more than half of this machine's memory (%2).")
        .arg(formatBytes(bytes), formatBytes(physicalBytes));
}

QString SpeedRunner::unsupportedReason(const bonsai::Model* model)
{
    if (!model)
        return tr("Open a model (an ONNX classifier or a Llama-family language model) to measure its speed.");
    if (bonsai::isLanguageModel(*model))
        return {};
    if (model->format != bonsai::Format::Onnx)
        return tr("Speed is measured for ONNX classifiers and Llama-family language models; this model is "
                  "neither.");
    const auto reasons = bonsai::OnnxExecutor::unsupportedReasons(*model);
    if (!reasons.empty())
        return tr("Bonsai's executor cannot run this model: %1.").arg(QString::fromStdString(reasons.front()));
    return {};
}

QString SpeedRunner::originalName(const bonsai::SpeedResult& original)
{
    if (original.kind == bonsai::SpeedResult::Kind::Classifier)
        return tr("FP32"); // the executor computes in float32
    const std::string& w = original.weightSummary;
    return w.rfind("F32:", 0) == 0 && w.find(',') == std::string::npos ? tr("FP32") : tr("Original");
}

} // namespace bonsai::ui
