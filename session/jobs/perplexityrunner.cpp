#include "perplexityrunner.h"

#include "jobrunner.h"

#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <QFileInfo>

#include <algorithm>
#include <map>

namespace bonsai::ui {

struct PerplexityRunner::Cache {
    std::shared_ptr<const bonsai::Model> model;
    std::unique_ptr<bonsai::LanguageModel> lm;
};

PerplexityRunner::PerplexityRunner(QObject* parent)
    : QObject(parent), m_runner(new JobRunner(this)), m_cache(std::make_shared<Cache>())
{
}

PerplexityRunner::~PerplexityRunner()
{
    m_runner->cancel();
    m_runner->waitForIdle();
}

void PerplexityRunner::reset() { m_cache = std::make_shared<Cache>(); }

quint64 PerplexityRunner::start(const PerplexityRequest& request, QObject* receiver, Live live, Done done)
{
    const bool calibrate = std::any_of(request.configs.begin(), request.configs.end(),
                                       [](const auto& c) { return c.needsCalibration(); });
    std::function<std::shared_ptr<bonsai::PerplexityResult>(JobControl&)> work =
        [model = request.model, configs = request.configs, baseOptions = request.options, calibrate,
         cache = m_cache, live = std::move(live), text = request.text.toStdString(),
         calib = request.calibration.toStdString()](JobControl& c) {
            if (!cache->lm || cache->model != model) {
                cache->lm = std::make_unique<bonsai::LanguageModel>(*model);
                cache->model = model;
            }
            const bonsai::LanguageModel& lm = *cache->lm;
            bonsai::PerplexityOptions opts = baseOptions;
            if (!c.progress(0))
                throw bonsai::Cancelled();
            const std::vector<int32_t> tokens = lm.tokenizer().encode(bonsai::readTextFile(text));
            // The layers' own "calibration samples" say how many chunks of it GPTQ/AWQ see
            // (the inspector's Calibration control); empty: the evaluated text.
            if (calibrate && !calib.empty() && calib != text)
                opts.calibrationTokens = lm.tokenizer().encode(bonsai::readTextFile(calib));
            size_t sent = 0;
            QString lastStage;
            auto progress = [&](const bonsai::PerplexityProgress& p) {
                const QString stage = QString::fromStdString(p.stage);
                if (live && (p.chunkPerplexity.size() > sent || stage != lastStage)) {
                    PerplexityChunks chunks;
                    chunks.perplexity.assign(
                        p.chunkPerplexity.begin() + std::ptrdiff_t(std::min(sent, p.chunkPerplexity.size())),
                        p.chunkPerplexity.end());
                    chunks.running = p.perplexity;
                    chunks.ctx = opts.ctx;
                    chunks.chunksTotal = p.chunksTotal;
                    chunks.stage = stage;
                    sent = p.chunkPerplexity.size();
                    lastStage = stage;
                    c.post([live, chunks = std::move(chunks)] { live(chunks); }); // current job only
                }
                return c.progress(p.fraction);
            };
            return std::make_shared<bonsai::PerplexityResult>(lm.perplexity(tokens, configs, opts, progress));
        };
    return m_runner->start<std::shared_ptr<bonsai::PerplexityResult>>(tr("Perplexity"), std::move(work), receiver,
                                                                       std::move(done));
}

QString PerplexityRunner::defaultText(const bonsai::Model& model)
{
    const QFileInfo info(QString::fromStdString(model.path));
    const QString dir = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    const QString eval = dir + QStringLiteral("/eval.txt");
    return QFileInfo::exists(eval) ? eval : QString();
}

QString PerplexityRunner::unsupportedReason(const bonsai::Model* model)
{
    if (model && !bonsai::isLanguageModel(*model))
        return tr("Perplexity measures language models (Llama, Mistral, Qwen2); this model is not one.");
    if (!model)
        return tr("Open a language model (a Hugging Face checkpoint folder or a GGUF file) to measure its "
                  "perplexity.");
    return {};
}

TradeoffPoint PerplexityRunner::tradeoffPoint(const bonsai::Model& model, const QString& label,
                                              const std::vector<bonsai::LayerConfig>& configs,
                                              const bonsai::PerplexityResult& r)
{
    TradeoffPoint p;
    p.label = label;
    p.configs = configs;
    p.perplexity = r.perplexity;
    p.basePerplexity = r.basePerplexity;
    p.result.complete = true;
    p.result.seconds = r.seconds;
    p.result.originalBytes = r.originalBytes ? r.originalBytes : model.totalBytes();
    p.result.compressedBytes = r.compressedBytes ? r.compressedBytes : p.result.originalBytes;
    p.result.metrics.agreement = r.agreement;
    p.result.metrics.meanKl = r.kl;
    return p;
}

} // namespace bonsai::ui
