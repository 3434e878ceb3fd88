#include "exportprediction.h"

#include "formatting.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <QCoreApplication>

#include <algorithm>

namespace bonsai::ui {

static QString tr(const char* s) { return QCoreApplication::translate("ExportPredictor", s); }

ExportPrediction ExportPredictor::predict(const std::shared_ptr<const bonsai::Model>& model,
                                          const std::vector<bonsai::LayerConfig>& configs,
                                          const ExportPredictionData& data, const bonsai::ProgressFn& progress)
{
    ExportPrediction p;
    const bool onnx = model->format == bonsai::Format::Onnx;
    const bool lm = !onnx && bonsai::isLanguageModel(*model);
    if (onnx && data.eval.dataset.isEmpty()) {
        p.hint = tr("For a predicted accuracy, choose a data set in the Evaluation dock.");
        return p;
    }
    if (lm && data.text.isEmpty()) {
        p.hint = tr("For a predicted perplexity, choose a text in the Perplexity dock (Evaluate > Perplexity…).");
        return p;
    }
    if (!onnx && !lm) {
        p.hint = tr("No prediction: Bonsai evaluates ONNX classifiers and language models.");
        return p;
    }
    try {
        if (onnx)
            return accuracy(model, configs, data.eval, progress);
        p.metric = ExportPrediction::Metric::Perplexity;
        p.data = data.text;
        p.dataKind = QStringLiteral("text");
        const bonsai::LanguageModel language(*model);
        const std::vector<int32_t> tokens = language.tokenizer().encode(bonsai::readTextFile(data.text.toStdString()));
        bonsai::PerplexityOptions opt;
        opt.ctx = data.ctx;
        opt.maxChunks = data.maxChunks;
        // GPTQ/AWQ layers calibrate on the calibration text as the Perplexity dock's run does.
        const bool calibrate = std::any_of(configs.begin(), configs.end(), [](const auto& c) { return c.needsCalibration(); });
        if (calibrate && !data.calibration.isEmpty() && data.calibration != data.text)
            opt.calibrationTokens = language.tokenizer().encode(bonsai::readTextFile(data.calibration.toStdString()));
        const bonsai::PerplexityResult r = language.perplexity(
            tokens, configs, opt, [&](const bonsai::PerplexityProgress& pp) { return !progress || progress(pp.fraction); });
        p.value = r.perplexity;
        p.uncompressed = r.basePerplexity;
        p.samples = qint64(r.tokens);
    } catch (const bonsai::Cancelled&) {
        throw;
    } catch (const std::exception& e) {
        p.metric = ExportPrediction::Metric::None;
        p.error = errorText(e);
    }
    return p;
}

ExportPrediction ExportPredictor::accuracy(const std::shared_ptr<const bonsai::Model>& model,
                                           const std::vector<bonsai::LayerConfig>& configs,
                                           const EvalSettings& settings, const bonsai::ProgressFn& progress)
{
    if (!m_engine || m_engine->settings() != settings || m_engine->model() != model)
        m_engine = std::make_shared<EvalEngine>(model, settings);
    const EvalPrepared prepared = m_engine->prepare();
    // The uncompressed run is the first half of the first prediction, cached afterwards.
    const bonsai::EvalResult base = m_engine->reference([&](double f) { return !progress || progress(0.5 * f); });
    const bonsai::EvalResult r =
        m_engine->evaluate(configs, [&](double f) { return !progress || progress(0.5 + 0.5 * f); }, {});
    ExportPrediction p;
    p.metric = ExportPrediction::Metric::Accuracy;
    p.value = r.metrics.top1;
    p.uncompressed = base.metrics.top1;
    p.samples = r.samples;
    p.data = settings.dataset;
    p.dataKind = prepared.format;
    if (prepared.format == QStringLiteral("IDX"))
        p.split = settings.split;
    return p;
}

} // namespace bonsai::ui
