#pragma once
// Measures of the quality change of one configuration against the search's reference (the
// recipe's configuration with the searched layers uncompressed), for the sensitivity table:
// a classifier on the first samples of a data set, a language model on the first chunks of a
// text. Each run starts from the first changed layer (the Evaluator's cached boundaries; the
// language model's saved residual stream at each block's input).
#include "bonsai/layer_config.h"
#include "bonsai/model.h"

#include <memory>
#include <string>
#include <vector>

namespace bonsai {

struct SensitivityOptions;

struct MeterRun {
    double kl = 0;     // mean KL(reference || run), nats per sample or token
    double metric = 0; // accuracy (fraction) or perplexity
};

class SensitivityMeter {
public:
    virtual ~SensitivityMeter() = default;
    virtual bool languageModel() const = 0;
    virtual std::string metricName() const = 0;
    virtual MeterRun reference() const = 0;
    // The reference configuration with layer `changed` set as `configs` says (every other
    // entry equal to the reference's); changed = -1: any layers changed (a whole run).
    virtual MeterRun run(const std::vector<LayerConfig>& configs, int changed) = 0;
    // Per input column of the layer's weight (rows x cols view), the mean square of its input
    // on the calibration data under the reference; empty when not known.
    virtual std::vector<double> inputMeanSquares(int layer) const = 0;
    // What the measures depend on besides the model: the data's digest and the protocol.
    virtual std::string calibrationKey() const = 0;
};

std::unique_ptr<SensitivityMeter> makeClassifierMeter(const Model& model, const std::vector<LayerConfig>& reference,
                                                      const SensitivityOptions& options);
std::unique_ptr<SensitivityMeter> makeLlmMeter(const Model& model, const std::vector<LayerConfig>& reference,
                                               const SensitivityOptions& options);

} // namespace bonsai
