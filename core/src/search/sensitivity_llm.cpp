// The language-model sensitivity meter: the reference's residual stream is saved at every
// block's input, so a run with one layer changed starts at that layer's block (from the
// embeddings for the embedding layer, at the head for an untied output layer).
#include "search/sensitivity_meter.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/provenance.h"
#include "bonsai/search.h"
#include "bonsai/tokenizer.h"
#include "llm/llm_impl.h"

#include <cmath>

namespace bonsai {

namespace {

class LlmMeter final : public SensitivityMeter {
public:
    LlmMeter(const Model& model, const std::vector<LayerConfig>& reference, const SensitivityOptions& o)
        : model_(model), ref_(reference), impl_(model)
    {
        const std::string text = readTextFile(o.dataPath);
        tokens_ = impl_.tokenizer->encode(text);
        const int64_t ctx = o.ctx;
        const int64_t available = static_cast<int64_t>(tokens_.size()) / ctx;
        if (available < 1)
            throw FileError(o.dataPath, "the text has " + std::to_string(tokens_.size()) +
                                            " tokens, fewer than one chunk of " + std::to_string(ctx));
        const int64_t chunks = std::min<int64_t>(o.samples > 0 ? o.samples : 16, available);
        seqs_ = makeLlmSeqs(tokens_, ctx, 0, chunks, impl_.bos, T_);
        key_ = calibrationDigest(o.dataPath) + " chunks " + std::to_string(chunks) + " ctx " + std::to_string(ctx);

        for (size_t b = 0; b < impl_.blocks.size(); ++b)
            for (int l : impl_.blocks[b].layer)
                if (l >= 0)
                    blockOf_[l] = static_cast<int>(b);

        // The reference run: block inputs, input statistics, final logits.
        LlmWeights w(model_, &ref_, uint64_t(1) << 30);
        RowMat x = impl_.embed(seqs_, T_, w);
        blockInput_.push_back(x);
        auto calibrate = [&](int block, const std::vector<int>& group, const RowMat& in) {
            Eigen::VectorXd ms = in.cast<double>().array().square().colwise().mean();
            for (int g : group) {
                const int layer = impl_.blocks[static_cast<size_t>(block)].layer[g];
                if (layer >= 0)
                    inputMs_[layer].assign(ms.data(), ms.data() + ms.size());
            }
        };
        impl_.blocksForward(seqs_, x, w, calibrate, [&](int) { blockInput_.push_back(x); });
        blockInput_.pop_back(); // the last block's output: not an input
        finalHidden_ = x;
        std::vector<float> scratch;
        const float* head = w.get(impl_.headLayer, scratch);
        for (const LlmSeq& s : seqs_)
            refLogits_.push_back(impl_.headLogits(x, s.offset, s.len, head));
        double nll = 0;
        for (size_t i = 0; i < seqs_.size(); ++i)
            nll += scoreLlmRows(refLogits_[i], nullptr, seqs_[i].target).nll;
        refRun_.metric = std::exp(nll / double(T_));
    }

    bool languageModel() const override { return true; }
    std::string metricName() const override { return "perplexity"; }
    MeterRun reference() const override { return refRun_; }
    std::string calibrationKey() const override { return key_; }

    std::vector<double> inputMeanSquares(int layer) const override
    {
        auto it = inputMs_.find(layer);
        return it == inputMs_.end() ? std::vector<double>{} : it->second;
    }

    MeterRun run(const std::vector<LayerConfig>& configs, int changed) override
    {
        LlmWeights w(model_, &configs, uint64_t(1) << 30);
        bool calibrated = false;
        for (size_t i = 0; i < configs.size(); ++i)
            calibrated |= w.needsCalibration(static_cast<int>(i));
        if (calibrated) // GPTQ/AWQ: calibrated on the chunks themselves, from the embeddings
            calibrateLlm(impl_, w, seqs_, T_, {});
        RowMat x;
        const bool headOnly = changed >= 0 && changed == impl_.headLayer && changed != impl_.embedLayer;
        auto block = changed >= 0 ? blockOf_.find(changed) : blockOf_.end();
        if (headOnly) {
            x = finalHidden_;
        } else if (block != blockOf_.end() && !calibrated) {
            x = blockInput_[static_cast<size_t>(block->second)];
            impl_.blocksForward(seqs_, x, w, {}, {}, block->second);
        } else {
            x = impl_.embed(seqs_, T_, w);
            impl_.blocksForward(seqs_, x, w, {}, {});
        }
        std::vector<float> scratch;
        const float* head = w.get(impl_.headLayer, scratch);
        double nll = 0, kl = 0;
        for (size_t i = 0; i < seqs_.size(); ++i) {
            const RowMat logits = impl_.headLogits(x, seqs_[i].offset, seqs_[i].len, head);
            const LlmRowStats st = scoreLlmRows(logits, &refLogits_[i], seqs_[i].target);
            nll += st.nll;
            kl += st.kl;
        }
        return {kl / double(T_), std::exp(nll / double(T_))};
    }

private:
    const Model& model_;
    std::vector<LayerConfig> ref_;
    LanguageModel::Impl impl_;
    std::vector<int32_t> tokens_;
    std::vector<LlmSeq> seqs_;
    int64_t T_ = 0;
    std::string key_;
    std::map<int, int> blockOf_;
    std::vector<RowMat> blockInput_;
    RowMat finalHidden_;
    std::vector<RowMat> refLogits_;
    std::map<int, std::vector<double>> inputMs_;
    MeterRun refRun_;
};

} // namespace

std::unique_ptr<SensitivityMeter> makeLlmMeter(const Model& model, const std::vector<LayerConfig>& reference,
                                               const SensitivityOptions& options)
{
    return std::make_unique<LlmMeter>(model, reference, options);
}

} // namespace bonsai
