// One weight matrix written the way ONNX stores it (see onnx_weights.h).
#include "export/onnx_weights.h"

#include "bonsai/compress.h"
#include "bonsai/half.h"
#include "bonsai/layout.h"

#include <algorithm>
#include <cmath>

namespace bonsai::detail {

namespace {

// Two 4-bit values per byte, the first in the low nibble (ONNX INT4/UINT4 raw data).
std::string packNibbles(const std::vector<int8_t>& v)
{
    std::string out((v.size() + 1) / 2, '\0');
    for (size_t i = 0; i < v.size(); ++i)
        out[i / 2] = static_cast<char>(static_cast<uint8_t>(out[i / 2]) | ((static_cast<uint8_t>(v[i]) & 15u) << (i % 2 ? 4 : 0)));
    return out;
}

template <typename T>
std::vector<T> transposed(const std::vector<T>& m, uint64_t rows, uint64_t cols)
{
    std::vector<T> t(m.size());
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c)
            t[c * rows + r] = m[r * cols + c];
    return t;
}

template <typename T>
void keepRows(std::vector<T>& v, uint64_t width, const std::vector<uint64_t>& drop)
{
    std::vector<T> out;
    out.reserve(v.size());
    size_t d = 0;
    for (uint64_t r = 0; width && r < v.size() / width; ++r) {
        if (d < drop.size() && drop[d] == r) {
            ++d;
            continue;
        }
        out.insert(out.end(), v.begin() + static_cast<std::ptrdiff_t>(r * width),
                   v.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
    }
    v = std::move(out);
}

template <typename T>
void keepColumns(std::vector<T>& v, uint64_t rows, uint64_t cols, const std::vector<uint64_t>& drop)
{
    std::vector<T> out;
    out.reserve(v.size());
    for (uint64_t r = 0; r < rows; ++r) {
        size_t d = 0;
        for (uint64_t c = 0; c < cols; ++c) {
            if (d < drop.size() && drop[d] == c) {
                ++d;
                continue;
            }
            out.push_back(v[r * cols + c]);
        }
    }
    v = std::move(out);
}

} // namespace

void setRaw(onnx::TensorProto& t, const std::string& name, int type, const std::vector<int64_t>& dims, const void* data,
            size_t bytes)
{
    t.Clear();
    t.set_name(name);
    t.set_data_type(type);
    for (int64_t d : dims)
        t.add_dims(d);
    t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
}

onnx::TensorProto* findInitializer(onnx::GraphProto& g, const std::string& name)
{
    for (auto& t : *g.mutable_initializer())
        if (t.name() == name)
            return &t;
    return nullptr;
}

void intAttribute(onnx::NodeProto& n, const char* name, int64_t v)
{
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

std::string intCodes(const LayerConfig& c, const std::vector<float>& before, OnnxMatrix& m)
{
    m.coded = true;
    const std::string why = intCodesOf(c, before, m.values, m);
    return why.empty() ? why : why + ": not exported to ONNX yet";
}

void dropRows(OnnxMatrix& m, const std::vector<uint64_t>& rows)
{
    if (rows.empty())
        return;
    keepRows(m.values, m.cols, rows);
    if (m.coded) {
        keepRows(m.q, m.cols, rows);
        keepRows(m.scale, m.groups, rows);
        keepRows(m.zero, m.groups, rows);
    }
    m.rows -= rows.size();
}

std::string dropColumns(OnnxMatrix& m, const std::vector<uint64_t>& cols)
{
    if (cols.empty())
        return {};
    if (m.coded && m.groups > 1)
        return "its integer groups would lose columns with the removed input channels";
    keepColumns(m.values, m.rows, m.cols, cols);
    if (m.coded) {
        keepColumns(m.q, m.rows, m.cols, cols);
        m.group = m.cols - cols.size();
    }
    m.cols -= cols.size();
    return {};
}

void scaleRows(OnnxMatrix& m, const std::vector<float>& k)
{
    for (uint64_t r = 0; r < m.rows; ++r) {
        for (uint64_t c = 0; c < m.cols; ++c)
            m.values[r * m.cols + c] *= k[r];
        for (uint64_t g = 0; m.coded && g < m.groups; ++g)
            m.scale[r * m.groups + g] *= k[r];
    }
}

std::string OnnxWeightWriter::write(const std::string& name, const std::vector<int64_t>& dims, int outAxis,
                                    const LayerConfig& c, const OnnxMatrix& m, Stored& out, onnx::TensorProto* init)
{
    onnx::TensorProto& t = init ? *init : *g_.add_initializer();
    std::vector<float> layout(m.values.size());
    if (c.precision.kind == PrecisionKind::FP32) {
        matrixToLayout(dims, outAxis, m.values.data(), layout.data());
        setRaw(t, name, onnx::TensorProto::FLOAT, dims, layout.data(), layout.size() * 4);
        out = {"FLOAT", layout.size() * 4, 32};
        return {};
    }
    if (c.precision.kind == PrecisionKind::FP16) {
        matrixToLayout(dims, outAxis, m.values.data(), layout.data());
        std::vector<uint16_t> h(layout.size());
        for (size_t i = 0; i < h.size(); ++i)
            h[i] = floatToFp16(layout[i]);
        setRaw(t, name + "_fp16", onnx::TensorProto::FLOAT16, dims, h.data(), h.size() * 2);
        onnx::NodeProto cast;
        cast.set_op_type("Cast");
        cast.set_name(name + "_cast");
        cast.add_input(name + "_fp16");
        cast.add_output(name);
        intAttribute(cast, "to", onnx::TensorProto::FLOAT);
        added_.push_back(std::move(cast));
        out = {"FLOAT16 + Cast", h.size() * 2, 16};
        return {};
    }
    if (!m.coded)
        return "no integer codes";
    const bool grouped = c.granularity == Granularity::Group && m.groups > 1;
    const bool conv = dims.size() > 2;
    // A folded BatchNormalization gives each row its own scale: per tensor becomes per axis.
    bool perTensor = c.granularity == Granularity::PerTensor;
    for (size_t i = 1; perTensor && i < m.scale.size(); ++i)
        perTensor = m.scale[i] == m.scale[0];
    if (!grouped && !perTensor && opset < 13)
        return "per-axis DequantizeLinear needs opset 13; the model has opset " + std::to_string(opset);
    if (grouped && conv && outAxis != 0)
        return "group-wise integers on a weight whose output channels are not its first axis (ConvTranspose): not "
               "exported yet";
    const bool sym = c.symmetric, nibbles = c.precision.bits <= 4 && grouped;
    // Stored types: INT4/UINT4 (ids 22/21, packed) for grouped codes of 4 bits or less.
    const int qtype = nibbles ? (sym ? 22 : 21) : (sym ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8);
    // The layout: the weight's own, with codes along its output axis; a Conv's groups run along
    // in*kh*kw, which blocked DequantizeLinear sees as the 2-D [out, in*kh*kw] tensor it stores,
    // reshaped to the Conv's shape after it.
    std::vector<int64_t> dataDims = dims, scaleDims;
    std::vector<int8_t> data, zeros = m.zero;
    std::vector<float> scales = m.scale;
    int64_t axis = outAxis;
    if (grouped && conv) {
        dataDims = {int64_t(m.rows), int64_t(m.cols)};
        data = m.q;
        scaleDims = {int64_t(m.rows), int64_t(m.groups)};
        axis = 1;
    } else if (grouped) { // 2-D: blocks along the input axis
        if (outAxis == 0) {
            data = m.q;
            scaleDims = {int64_t(m.rows), int64_t(m.groups)};
            axis = 1;
        } else {
            data = transposed(m.q, m.rows, m.cols);
            scales = transposed(m.scale, m.rows, m.groups);
            zeros = transposed(m.zero, m.rows, m.groups);
            scaleDims = {int64_t(m.groups), int64_t(m.rows)};
            axis = 0;
        }
    } else {
        data.resize(m.q.size());
        matrixToLayout(dims, outAxis, m.q.data(), data.data());
        if (perTensor) {
            scales.resize(1);
            zeros.resize(1);
        } else {
            scaleDims = {int64_t(m.rows)};
        }
    }
    const std::string dataBytes = nibbles ? packNibbles(data) : std::string(data.begin(), data.end());
    const std::string zeroBytes = nibbles ? packNibbles(zeros) : std::string(zeros.begin(), zeros.end());
    setRaw(t, name + "_quantized", qtype, dataDims, dataBytes.data(), dataBytes.size());
    setRaw(*g_.add_initializer(), name + "_scale", onnx::TensorProto::FLOAT, scaleDims, scales.data(), scales.size() * 4);
    setRaw(*g_.add_initializer(), name + "_zero_point", qtype, scaleDims, zeroBytes.data(), zeroBytes.size());
    const std::string dqOut = grouped && conv ? name + "_2d" : name;
    onnx::NodeProto dq;
    dq.set_op_type("DequantizeLinear");
    dq.set_name(name + "_dequantize");
    dq.add_input(name + "_quantized");
    dq.add_input(name + "_scale");
    dq.add_input(name + "_zero_point");
    dq.add_output(dqOut);
    if (!perTensor)
        intAttribute(dq, "axis", axis);
    if (grouped)
        intAttribute(dq, "block_size", int64_t(m.group));
    added_.push_back(std::move(dq));
    if (grouped && conv) {
        setRaw(*g_.add_initializer(), name + "_shape", onnx::TensorProto::INT64, {int64_t(dims.size())}, dims.data(),
               dims.size() * 8);
        onnx::NodeProto reshape;
        reshape.set_op_type("Reshape");
        reshape.set_name(name + "_reshape");
        reshape.add_input(dqOut);
        reshape.add_input(name + "_shape");
        reshape.add_output(name);
        added_.push_back(std::move(reshape));
    }
    opset21_ |= grouped;
    const std::string typeName = nibbles ? (sym ? "INT4" : "UINT4") : (sym ? "INT8" : "UINT8");
    out.type = typeName + (perTensor ? " per tensor" : grouped ? " blocks of " + std::to_string(m.group) : " per axis") +
               " + DequantizeLinear" + (grouped && conv ? " + Reshape" : "");
    out.bytes = dataBytes.size() + scales.size() * 4 + zeroBytes.size();
    out.containerBits = nibbles ? 4 : 8;
    return {};
}

} // namespace bonsai::detail
