// The classifier sensitivity meter: the Evaluator on the first samples of a data set, which
// starts each run from the cached boundary of the first layer that differs from the
// uncompressed model.
#include "search/sensitivity_meter.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/provenance.h"
#include "bonsai/search.h"

namespace bonsai {

namespace {

class ClassifierMeter final : public SensitivityMeter {
public:
    ClassifierMeter(const Model& model, const std::vector<LayerConfig>& reference, const SensitivityOptions& o)
    {
        DatasetOptions dopt;
        if (!o.split.empty())
            dopt.split = o.split;
        data_ = openDataset(o.dataPath.empty() ? defaultDatasetPath() : o.dataPath, dopt);
        EvalOptions eo;
        eo.limit = o.samples > 0 ? o.samples : 1000;
        eo.quickSamples = 0;
        eval_ = std::make_unique<Evaluator>(model, *data_, eo);
        const EvalResult r = eval_->evaluate(reference);
        refRun_ = {r.metrics.meanKl, r.metrics.top1};
        key_ = calibrationDigest(data_->path()) + " split " + dopt.split + " samples " + std::to_string(r.samples);
    }

    bool languageModel() const override { return false; }
    std::string metricName() const override { return "accuracy"; }
    MeterRun reference() const override { return refRun_; }
    std::string calibrationKey() const override { return key_; }
    std::vector<double> inputMeanSquares(int) const override { return {}; }

    MeterRun run(const std::vector<LayerConfig>& configs, int) override
    {
        // The Evaluator's KL is against the uncompressed model; the reference's own KL (zero
        // unless layers outside the search are compressed) is taken off.
        const EvalResult r = eval_->evaluate(configs);
        return {std::max(0.0, r.metrics.meanKl - refRun_.kl), r.metrics.top1};
    }

private:
    std::unique_ptr<Dataset> data_;
    std::unique_ptr<Evaluator> eval_;
    MeterRun refRun_;
    std::string key_;
};

} // namespace

std::unique_ptr<SensitivityMeter> makeClassifierMeter(const Model& model, const std::vector<LayerConfig>& reference,
                                                      const SensitivityOptions& options)
{
    return std::make_unique<ClassifierMeter>(model, reference, options);
}

} // namespace bonsai
