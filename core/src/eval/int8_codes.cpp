// Deploy mode's INT8 weights (see int8_codes.h).
#include "eval/int8_codes.h"

#include "bonsai/layout.h"

#include <algorithm>
#include <cmath>

namespace bonsai {

std::optional<QuantizedWeight> int8Codes(const Model& model, const Layer& layer, const LayerConfig& c,
                                         const std::vector<float>& rec)
{
    if (c.precision.kind != PrecisionKind::Int || c.precision.bits != 8 || !c.symmetric || c.hasRank() ||
        (c.granularity != Granularity::PerChannel && c.granularity != Granularity::PerTensor))
        return std::nullopt;
    const TensorInfo& t = model.tensors[static_cast<size_t>(layer.weight)];
    if (layer.outAxis < 0 || static_cast<size_t>(layer.outAxis) >= t.shape.size())
        return std::nullopt;
    const bool perTensor = c.granularity == Granularity::PerTensor;
    const AxisSplit sp = splitAtAxis(t.shape, layer.outAxis);
    const uint64_t channels = perTensor ? 1 : sp.channels;
    // Element k belongs to channel (k / inner) % channels of the layout [outer, channels, inner].
    const uint64_t inner = perTensor ? rec.size() : sp.inner;
    QuantizedWeight q;
    q.axis = layer.outAxis;
    q.codes.resize(rec.size());
    q.scales.assign(channels, 0.0f);
    std::vector<float> amax(channels, 0.0f);
    for (size_t k = 0; k < rec.size(); ++k) {
        const size_t ch = perTensor ? 0 : (k / inner) % channels;
        amax[ch] = std::max(amax[ch], std::fabs(rec[k]));
    }
    // The largest code is 127 unless the codes were chosen otherwise (GPTQ): then the first
    // divisor under it that makes every value an integer multiple.
    for (uint64_t ch = 0; ch < channels; ++ch)
        if (amax[ch] == 0.0f)
            q.scales[ch] = 1.0f;
    for (int top = 127; top >= 64; --top) {
        std::vector<uint8_t> grid(channels, 1);
        bool pending = false;
        for (size_t k = 0; k < rec.size(); ++k) {
            const size_t ch = perTensor ? 0 : (k / inner) % channels;
            if (q.scales[ch] != 0.0f || !grid[ch])
                continue;
            const float v = rec[k] * static_cast<float>(top) / amax[ch];
            grid[ch] = std::fabs(v - std::nearbyint(v)) <= 1e-3f;
        }
        for (uint64_t ch = 0; ch < channels; ++ch) {
            if (q.scales[ch] == 0.0f && grid[ch])
                q.scales[ch] = amax[ch] / static_cast<float>(top);
            pending = pending || q.scales[ch] == 0.0f;
        }
        if (!pending)
            break;
    }
    for (float sc : q.scales)
        if (sc == 0.0f)
            return std::nullopt;
    for (size_t k = 0; k < rec.size(); ++k) {
        const size_t ch = perTensor ? 0 : (k / inner) % channels;
        q.codes[k] = static_cast<int8_t>(std::clamp(std::nearbyint(rec[k] / q.scales[ch]), -127.0f, 127.0f));
    }
    return q;
}

} // namespace bonsai
