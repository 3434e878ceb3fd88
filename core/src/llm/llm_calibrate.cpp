// GPTQ and AWQ calibration of a language model's linear layers, block by block.
//
// Calibration sequences run through the model once, layer-major. Before a group of linear
// layers that share an input (q/k/v, o, gate/up, down) is used, the group's input activations
// calibrate every layer of it that asks for GPTQ or AWQ; the calibrated weights are then used
// for the rest of the pass, so later layers see the quantized model's activations (GPTQ's
// sequential order).
#include "llm/llm_impl.h"
#include "bonsai/describe.h"

#include "compress/gptq.h"
#include "compress/awq.h"

#include <cstdio>
#include <map>
#include <optional>

namespace bonsai {

namespace {

// Plain integer configuration (no sparsity, no rank): AWQ can share one scale vector over the
// group's layers.
bool plainInt(const LayerConfig& c)
{
    return c.precision.kind == PrecisionKind::Int && !c.hasSparsity() && !c.hasRank();
}

std::string_view labelOf(int role)
{
    static constexpr std::string_view kNames[] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};
    return kNames[role];
}

std::string_view foldTarget(int role)
{
    switch (role) {
    case kQ: case kK: case kV: return "scales fold into the attention RMSNorm weight";
    case kGate: case kUp: return "scales fold into the MLP RMSNorm weight";
    case kO: return "scales scale o_proj's input (they could fold into v_proj's rows)";
    default: return "scales scale down_proj's input (they could fold into up_proj's rows)";
    }
}

} // namespace

void calibrateLlm(const LanguageModel::Impl& m, LlmWeights& w, const std::vector<LlmSeq>& seqs, int64_t tokens,
                  const std::function<void(int block)>& afterBlock)
{
    const Model& model = m.model;
    auto calibrate = [&](int block, const std::vector<int>& group, const RowMat& input) {
        const LlmBlock& blk = m.blocks[static_cast<size_t>(block)];
        std::vector<int> gptq, awq;
        for (int role : group) {
            const int layer = blk.layer[role];
            if (!w.needsCalibration(layer) || w.hasCached(layer))
                continue;
            (w.config(layer)->method == QuantMethod::GPTQ ? gptq : awq).push_back(role);
        }
        if (gptq.empty() && awq.empty())
            return;
        const int64_t n = input.rows(), cols = input.cols();

        if (!gptq.empty()) {
            HessianAccumulator acc(cols);
            acc.add(input.data(), n);
            LayerCalibration calib;
            calib.hessian = acc.hessian();
            calib.samples = n;
            for (int role : gptq) {
                const int layer = blk.layer[role];
                std::vector<float> out;
                const LayerResult r = compressLayer(model, layer, *w.config(layer), &out, w.globalMask(layer),
                                                    nullptr, &calib);
                w.putCalibrated(layer, std::move(out), r);
            }
        }

        // AWQ: layers with equal plain integer settings share one searched scale vector;
        // others are calibrated one by one by the engine.
        std::map<std::string, std::vector<int>> shared;
        std::vector<int> single;
        for (int role : awq) {
            const LayerConfig& c = *w.config(blk.layer[role]);
            if (plainInt(c))
                shared[describe(c)].push_back(role);
            else
                single.push_back(role);
        }
        for (const auto& [key, roles] : shared) {
            std::vector<std::vector<float>> weights;
            std::vector<AwqLayer> layers;
            weights.reserve(roles.size());
            for (int role : roles) {
                uint64_t rows = 0, c = 0;
                weights.push_back(layerMatrix(model, model.layers[static_cast<size_t>(blk.layer[role])], rows, c));
                layers.push_back({weights.back().data(), static_cast<int64_t>(rows)});
            }
            const LayerConfig& cfg = *w.config(blk.layer[roles.front()]);
            const AwqResult ar = awqQuantize(layers, cols, input.data(), n, [&] {
                IntQuantConfig q = intQuantConfig(cfg);
                q.clipSearch = false; // AWQ's scale search replaces the clip search
                return q;
            }());
            std::string names;
            for (size_t i = 0; i < roles.size(); ++i) {
                LayerConfig rtn = *w.config(blk.layer[roles[i]]);
                rtn.method = QuantMethod::RTN;
                const LayerResult r = compressLayer(model, blk.layer[roles[i]], rtn); // exact bits
                w.putCalibrated(blk.layer[roles[i]], std::move(weights[i]), r);
                names += (i ? ", " : "") + std::string(labelOf(roles[i]));
            }
            char buf[256];
            std::snprintf(buf, sizeof buf, "block %d %s: AWQ alpha %.2f, output error %.3g (round-to-nearest %.3g); "
                          "%s", block, names.c_str(), ar.alpha, ar.error, ar.rtnError,
                          std::string(foldTarget(roles.front())).c_str());
            w.notes.push_back(buf);
        }
        if (!single.empty()) {
            LayerCalibration calib;
            const int64_t keep = std::min<int64_t>(n, 4096), stride = std::max<int64_t>(1, n / keep);
            for (int64_t r = 0; r < n && calib.samples < keep; r += stride, ++calib.samples)
                calib.inputs.insert(calib.inputs.end(), input.row(r).data(), input.row(r).data() + cols);
            for (int role : single) {
                const int layer = blk.layer[role];
                std::vector<float> out;
                const LayerResult r = compressLayer(model, layer, *w.config(layer), &out, w.globalMask(layer),
                                                    nullptr, &calib);
                w.putCalibrated(layer, std::move(out), r);
            }
        }
    };
    RowMat x = m.embed(seqs, tokens, w);
    m.blocksForward(seqs, x, w, calibrate, afterBlock);
}

} // namespace bonsai
