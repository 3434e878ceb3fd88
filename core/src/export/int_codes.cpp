// Integer (and FP8) codes of a compressed layer for the exporters that store codes (ONNX,
// compressed-tensors): recovered from the evaluated values and checked to dequantize to them
// exactly, so that what a runtime computes is what Bonsai predicted.
#include "bonsai/compress.h"
#include "bonsai/half.h"
#include "bonsai/layout.h"
#include "export/export_impl.h"
#include "quant/quant_int_impl.h"

#include <algorithm>

namespace bonsai::detail {

std::vector<float> reconstructLayer(const Model& model, int layer, const LayerConfig& c)
{
    std::vector<float> out;
    compressLayer(model, layer, c, &out);
    return out;
}

std::string withoutCalibration(LayerConfig& c)
{
    if (!c.needsCalibration())
        return {};
    const std::string m(methodName(c.method));
    c.method = QuantMethod::RTN;
    return m + " needs calibration data, which the export does not take: round-to-nearest codes written (and "
               "predicted)";
}

namespace {

// What the precision step saw (the layer after sparsity) and what it made (`values`), in matrix
// form: rows = output channels.
void matrices(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values, uint64_t& rows,
              uint64_t& cols, std::vector<float>& pre, std::vector<float>& val)
{
    const Layer& l = model.layers[static_cast<size_t>(layer)];
    const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
    const AxisSplit s = splitAtAxis(t.shape, l.outAxis);
    rows = s.channels;
    cols = s.cols();
    LayerConfig before = c;
    before.precision = Precision{PrecisionKind::FP32};
    const std::vector<float> p = reconstructLayer(model, layer, before);
    pre.resize(p.size());
    val.resize(values.size());
    layoutToMatrix(t.shape, l.outAxis, p.data(), pre.data());
    layoutToMatrix(t.shape, l.outAxis, values.data(), val.data());
}

} // namespace

std::string intCodesOf(const LayerConfig& c, const std::vector<float>& preM, const std::vector<float>& valM, IntCodes& out)
{
    out.group = c.granularity == Granularity::Group ? std::min<uint64_t>(c.groupSize, out.cols) : out.cols;
    out.groups = out.group ? (out.cols + out.group - 1) / out.group : 0;
    const IntQuantConfig q = intQuantConfig(c);
    const float qmax = intq::qmaxOf(q), qlo = intq::qloOf(q);
    out.q.assign(out.rows * out.cols, 0);
    out.scale.assign(out.rows * out.groups, 0.0f);
    out.zero.assign(out.rows * out.groups, 0);
    const intq::Params whole = intq::paramsFor(intq::rangeOf(preM.data(), preM.size()), 1.0f, q.symmetric, qmax);
    for (uint64_t r = 0; r < out.rows; ++r)
        for (uint64_t gi = 0; gi < out.groups; ++gi) {
            const uint64_t first = r * out.cols + gi * out.group, len = std::min(out.group, out.cols - gi * out.group);
            const intq::Params p = c.granularity == Granularity::PerTensor
                                       ? whole
                                       : intq::paramsFor(intq::rangeOf(preM.data() + first, len), 1.0f, q.symmetric, qmax);
            out.scale[r * out.groups + gi] = p.scale;
            out.zero[r * out.groups + gi] = static_cast<int8_t>(static_cast<uint8_t>(p.zero));
            for (uint64_t i = first; i < first + len; ++i) {
                const float y = valM[i];
                float code = p.scale == 0 ? p.zero : intq::roundEven(y / p.scale) + p.zero;
                code = std::min(std::max(code, qlo), qmax);
                if ((code - p.zero) * p.scale != y)
                    return "its values are not on one integer grid per group (clip search, GPTQ or AWQ chose other "
                           "scales)";
                out.q[i] = q.symmetric ? static_cast<int8_t>(code) : static_cast<int8_t>(static_cast<uint8_t>(code));
            }
        }
    return {};
}

std::string intCodes(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values, IntCodes& out)
{
    std::vector<float> preM, valM;
    matrices(model, layer, c, values, out.rows, out.cols, preM, valM);
    return intCodesOf(c, preM, valM, out);
}

std::string fp8Codes(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values, Fp8Codes& out)
{
    std::vector<float> preM, valM;
    matrices(model, layer, c, values, out.rows, out.cols, preM, valM);
    // fakeQuantFloat's scales: fp16(max |w| / 448) per tensor or per row.
    const bool perTensor = c.granularity == Granularity::PerTensor;
    out.scale.clear();
    if (perTensor)
        out.scale.push_back(intq::fp16Scale(intq::rangeOf(preM.data(), preM.size()).amax / kFp8E4M3Max));
    else
        for (uint64_t r = 0; r < out.rows; ++r)
            out.scale.push_back(intq::fp16Scale(intq::rangeOf(preM.data() + r * out.cols, out.cols).amax / kFp8E4M3Max));
    out.q.assign(out.rows * out.cols, 0);
    for (uint64_t i = 0; i < valM.size(); ++i) {
        const float scale = out.scale[perTensor ? 0 : i / out.cols];
        const uint8_t code = scale == 0 ? 0 : floatToFp8E4M3(valM[i] / scale);
        if (fp8e4m3ToFloat(code) * scale != valM[i])
            return "its values are not FP8 E4M3 codes times one scale per " + std::string(perTensor ? "tensor" : "row");
        out.q[i] = code;
    }
    return {};
}

} // namespace bonsai::detail
