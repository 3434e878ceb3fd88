// compressed-tensors pack-quantized export of the tiny-llama fixture, read back by a decoder
// written here from the layout's definition (not Bonsai's): the safetensors header parsed on
// its own, each int32 word unpacked lowest bits first along the input axis (32/bits codes a
// word, offset by 2^(bits-1)), zero points unpacked the same way along the output axis, and
// scale * (q - zero) per channel or per group; every weight must equal the values Bonsai
// evaluates (compressLayer) exactly, so the perplexity Bonsai predicts is the file's.
//  - int4 groups of 32 symmetric, groups of 128 asymmetric, int8 per channel, a mix of two
//    schemes, F16 scales; FP8 E4M3 (float-quantized) per channel and per tensor, and mixed with
//    packed int4 (mixed-precision); config.json's quantization_config key by key; the file exactly the
//    planned size;
//  - int3 in 4-bit fields and per-tensor scales repeated per row are "changed" and still exact;
//    BF16 scales and GPTQ without calibration data (round-to-nearest written) are "changed";
//  - a checkpoint made here: an untied lm_head, a bias, 12 rows, an fp16 layer ignored;
//  - a Python decoder (compressed-tensors' unpacking) agrees with the dense F32 export;
//  - refusals: NF4, FP8 E5M2, GGUF types, low rank, clip search (values on no grid), an ONNX
//    model, an existing folder, a cancelled export (nothing left).
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

using namespace bonsai;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct StTensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string data;
};

// The safetensors file: 8-byte little-endian header length, JSON header, data.
std::map<std::string, StTensor> readSafetensors(const std::string& path, json* meta = nullptr)
{
    const std::string bytes = testutil::readFile(path);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    const json header = json::parse(bytes.substr(8, n));
    std::map<std::string, StTensor> out;
    for (const auto& [name, e] : header.items()) {
        if (name == "__metadata__") {
            if (meta)
                *meta = e;
            continue;
        }
        const auto off = e["data_offsets"].get<std::vector<uint64_t>>();
        out[name] = {e["dtype"].get<std::string>(), e["shape"].get<std::vector<int64_t>>(),
                     bytes.substr(8 + n + off[0], off[1] - off[0])};
    }
    return out;
}

// IEEE half to float, from the bit fields.
float halfToFloat(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (e == 0)
        return sign * std::ldexp(float(m), -24);
    if (e == 31)
        return m ? NAN : sign * INFINITY;
    return sign * std::ldexp(float(m + 1024), e - 25);
}

std::vector<float> floatsOf(const StTensor& t)
{
    std::vector<float> v;
    const size_t w = t.dtype == "F32" ? 4 : 2;
    for (size_t i = 0; i < t.data.size() / w; ++i) {
        if (t.dtype == "F32") {
            float f;
            std::memcpy(&f, t.data.data() + 4 * i, 4);
            v.push_back(f);
        } else {
            uint16_t h;
            std::memcpy(&h, t.data.data() + 2 * i, 2);
            if (t.dtype == "F16") {
                v.push_back(halfToFloat(h));
            } else { // BF16: the top half of a float
                const uint32_t u = uint32_t(h) << 16;
                float f;
                std::memcpy(&f, &u, 4);
                v.push_back(f);
            }
        }
    }
    return v;
}

uint32_t word(const StTensor& t, size_t i)
{
    uint32_t w;
    std::memcpy(&w, t.data.data() + 4 * i, 4);
    return w;
}

// The config group of a module (targets: "Linear" or its name) and its weights' arguments.
const json* schemeOf(const json& q, const std::string& module)
{
    for (const auto& [name, g] : q["config_groups"].items())
        for (const auto& t : g["targets"])
            if (t == module || t == "Linear")
                return &g["weights"];
    return nullptr;
}

// FP8 E4M3 "fn" (bias 7, no infinities, S.1111.111 NaN), from the bit fields.
float e4m3ToFloat(uint8_t v)
{
    const int e = (v >> 3) & 15, m = v & 7;
    const float sign = (v & 0x80) ? -1.0f : 1.0f;
    if (e == 15 && m == 7)
        return NAN;
    return e == 0 ? sign * std::ldexp(float(m), -9) : sign * std::ldexp(float(8 + m), e - 10);
}

// float-quantized: <module>.weight in FP8 E4M3 times its scale (per row [out, 1], or [1]).
std::vector<float> decodeFp8(const std::map<std::string, StTensor>& st, const std::string& module, const json& w)
{
    const StTensor& q = st.at(module + ".weight");
    const StTensor& s = st.at(module + ".weight_scale");
    const bool perTensor = w["strategy"] == "tensor";
    if (q.dtype != "F8_E4M3" || q.shape.size() != 2 ||
        s.shape != (perTensor ? std::vector<int64_t>{1} : std::vector<int64_t>{q.shape[0], 1}))
        return {};
    const std::vector<float> scale = floatsOf(s);
    std::vector<float> out(q.data.size());
    for (size_t i = 0; i < out.size(); ++i)
        out[i] = e4m3ToFloat(uint8_t(q.data[i])) * scale[perTensor ? 0 : i / size_t(q.shape[1])];
    return out;
}

// Decodes <module>.weight_* by the pack-quantized definition into the [out, in] weight.
std::vector<float> decodePacked(const std::map<std::string, StTensor>& st, const std::string& module, const json& w)
{
    if (w["type"] == "float")
        return decodeFp8(st, module, w);
    const int bits = w["num_bits"].get<int>();
    const bool sym = w["symmetric"].get<bool>();
    const bool grouped = w["strategy"] == "group";
    const StTensor& packed = st.at(module + ".weight_packed");
    const StTensor& shapeT = st.at(module + ".weight_shape");
    if (packed.dtype != "I32" || shapeT.dtype != "I64" || shapeT.shape != std::vector<int64_t>{2})
        return {};
    int64_t shape[2];
    std::memcpy(shape, shapeT.data.data(), 16);
    const int64_t rows = shape[0], cols = shape[1], perWord = 32 / bits, offset = 1 << (bits - 1);
    const std::vector<float> scale = floatsOf(st.at(module + ".weight_scale"));
    const int64_t groups = grouped ? (cols + w["group_size"].get<int64_t>() - 1) / w["group_size"].get<int64_t>() : 1;
    if (packed.shape != std::vector<int64_t>{rows, (cols + perWord - 1) / perWord} ||
        st.at(module + ".weight_scale").shape != std::vector<int64_t>{rows, groups})
        return {};
    const uint32_t mask = (1u << bits) - 1;
    std::vector<float> out(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t g = grouped ? c / w["group_size"].get<int64_t>() : 0;
            const int64_t words = packed.shape[1];
            const int64_t q = int64_t((word(packed, size_t(r * words + c / perWord)) >> (bits * (c % perWord))) & mask) - offset;
            int64_t z = 0;
            if (!sym) {
                const StTensor& zp = st.at(module + ".weight_zero_point");
                z = int64_t((word(zp, size_t((r / perWord) * groups + g)) >> (bits * (r % perWord))) & mask) - offset;
            }
            out[size_t(r * cols + c)] = float(q - z) * scale[size_t(r * groups + g)];
        }
    return out;
}


} // namespace

class TstExportPacked : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        hf_ = Model::open(testutil::dataPath("tiny-llama"));
        root_ = testutil::tempPath("packed-export");
        fs::remove_all(root_);
        fs::create_directories(root_);
    }

    void decodesToTheEvaluatedWeights_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<int>("dtype");
        QTest::addColumn<QString>("format");     // quantization_config's
        QTest::addColumn<int>("groupsExpected"); // config groups
        QTest::addColumn<int>("bits");           // of group_0
        QTest::addColumn<bool>("symmetric");
        QTest::addColumn<QString>("strategy");
        QTest::addColumn<int>("groupSize");
        QTest::addColumn<bool>("changed");       // the Linear layers are "changed"
        const QString packed = QStringLiteral("pack-quantized"), fp8 = QStringLiteral("float-quantized");
        const QString group = QStringLiteral("group"), channel = QStringLiteral("channel");
        QTest::newRow("int4 g32 sym") << R"({"precision":"int4","granularity":"group","group_size":32})" << int(DType::F32)
                                      << packed << 1 << 4 << true << group << 32 << false;
        QTest::newRow("int4 g128 asym") << R"({"precision":"int4","granularity":"group","group_size":128,"symmetric":false})"
                                        << int(DType::F32) << packed << 1 << 4 << false << group << 128 << false;
        QTest::newRow("int8 channel") << R"({"precision":"int8","granularity":"channel"})" << int(DType::F32) << packed
                                      << 1 << 8 << true << channel << 0 << false;
        QTest::newRow("int8 channel asym f16") << R"({"precision":"int8","granularity":"channel","symmetric":false})"
                                               << int(DType::F16) << packed << 1 << 8 << false << channel << 0 << false;
        QTest::newRow("int3 g32 asym") << R"({"precision":"int3","granularity":"group","group_size":32,"symmetric":false})"
                                       << int(DType::F32) << packed << 1 << 4 << false << group << 32 << true;
        QTest::newRow("int8 per tensor") << R"({"precision":"int8","granularity":"tensor"})" << int(DType::F32) << packed
                                         << 1 << 8 << true << channel << 0 << true;
        QTest::newRow("mix") << R"({"precision":"int4","granularity":"group","group_size":32,"symmetric":false},
                                   "rules":[{"match":"down_proj","precision":"int8","granularity":"channel","symmetric":true}])"
                             << int(DType::F32) << packed << 2 << 4 << false << group << 32 << false;
        QTest::newRow("fp8 channel") << R"({"precision":"fp8_e4m3","granularity":"channel"})" << int(DType::F32) << fp8 << 1
                                     << 8 << true << channel << 0 << false;
        QTest::newRow("fp8 tensor f16") << R"({"precision":"fp8_e4m3","granularity":"tensor"})" << int(DType::F16) << fp8
                                        << 1 << 8 << true << QStringLiteral("tensor") << 0 << false;
        QTest::newRow("mix fp8") << R"({"precision":"int4","granularity":"group","group_size":32,"symmetric":false},
                                       "rules":[{"match":"down_proj","precision":"fp8_e4m3","granularity":"channel"}])"
                                 << int(DType::F32) << QStringLiteral("mixed-precision") << 2 << 4 << false << group << 32
                                 << false;
    }

    void decodesToTheEvaluatedWeights()
    {
        QFETCH(QString, recipe);
        QFETCH(int, dtype);
        QFETCH(QString, format);
        QFETCH(int, groupsExpected);
        QFETCH(int, bits);
        QFETCH(bool, symmetric);
        QFETCH(QString, strategy);
        QFETCH(int, groupSize);
        QFETCH(bool, changed);
        const bool mixed = format == QStringLiteral("mixed-precision");
        const std::string text = R"({"bonsai_recipe":1,"defaults":)" + recipe.toStdString() + "}";
        const auto configs = resolveConfigs(*hf_, Recipe::parse(text, "test recipe"));
        ExportOptions o;
        o.floatType = DType(dtype);
        const std::string out = root_ + "/" + QTest::currentDataTag();
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, out, o);
        QCOMPARE(testutil::dirEntries(out), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model"}));
        QCOMPARE(uint64_t(fs::file_size(out + "/model.safetensors")), plan.fileBytes);

        // quantization_config, key by key.
        const json config = json::parse(testutil::readFile(out + "/config.json"));
        QCOMPARE(config["hidden_size"].get<int>(), 128);
        const json& q = config["quantization_config"];
        QCOMPARE(q["quant_method"].get<std::string>(), std::string("compressed-tensors"));
        QCOMPARE(q["format"].get<std::string>(), format.toStdString());
        QCOMPARE(q["quantization_status"].get<std::string>(), std::string("compressed"));
        QCOMPARE(q["ignore"], json::array({"lm_head"})); // tied: lm_head is the embedding, not packed
        QCOMPARE(int(q["config_groups"].size()), groupsExpected);
        const json& g0 = q["config_groups"]["group_0"];
        const bool fp8 = format == QStringLiteral("float-quantized");
        QCOMPARE(g0["format"].get<std::string>(), std::string(fp8 ? "float-quantized" : "pack-quantized"));
        QVERIFY(g0["input_activations"].is_null());
        QCOMPARE(g0["weights"]["num_bits"].get<int>(), bits);
        QCOMPARE(g0["weights"]["type"].get<std::string>(), std::string(fp8 ? "float" : "int"));
        QCOMPARE(g0["weights"]["symmetric"].get<bool>(), symmetric);
        QCOMPARE(g0["weights"]["strategy"].get<std::string>(), strategy.toStdString());
        if (groupSize)
            QCOMPARE(g0["weights"]["group_size"].get<int>(), groupSize);
        else
            QVERIFY(g0["weights"]["group_size"].is_null());
        QCOMPARE(g0["targets"].size(), groupsExpected == 1 ? size_t(1) : size_t(4 * 6));
        if (groupsExpected == 1) {
            QCOMPARE(g0["targets"][0].get<std::string>(), std::string("Linear"));
        } else {
            const json& g1 = q["config_groups"]["group_1"]["weights"];
            QCOMPARE(q["config_groups"]["group_1"]["format"].get<std::string>(),
                     std::string(mixed ? "float-quantized" : "pack-quantized"));
            QCOMPARE(g1["type"].get<std::string>(), std::string(mixed ? "float" : "int"));
            QCOMPARE(g1["num_bits"].get<int>(), 8);
            QCOMPARE(g1["strategy"].get<std::string>(), std::string("channel"));
            QCOMPARE(g1["symmetric"].get<bool>(), true);
            QCOMPARE(q["config_groups"]["group_1"]["targets"][0].get<std::string>(),
                     std::string("model.layers.0.mlp.down_proj"));
        }

        // Every tensor, decoded on its own, against what Bonsai evaluates.
        json meta;
        const auto st = readSafetensors(out + "/model.safetensors", &meta);
        // The provenance of the export (the source files' digests), not the check's zero digests.
        const json prov = json::parse(meta["bonsai.provenance"].get<std::string>());
        QVERIFY(!prov["files"].empty());
        for (const auto& f : prov["files"])
            QVERIFY(f["sha256"].get<std::string>() != std::string(64, '0'));
        const std::string floatName = dtype == int(DType::F32) ? "F32" : "F16";
        size_t packedLayers = 0;
        for (size_t l = 0; l < hf_->layers.size(); ++l) {
            const Layer& layer = hf_->layers[l];
            std::vector<float> expected;
            compressLayer(*hf_, int(l), configs[l], &expected);
            std::vector<float> got;
            if (layer.op == "Linear") {
                const json* w = schemeOf(q, layer.name);
                QVERIFY2(w, layer.name.c_str());
                const bool isFloat = (*w)["type"] == "float";
                QCOMPARE(st.count(layer.name + ".weight") ? st.at(layer.name + ".weight").dtype : std::string("none"),
                         std::string(isFloat ? "F8_E4M3" : "none"));
                QCOMPARE(bool(st.count(layer.name + ".weight_packed")), !isFloat);
                QCOMPARE(st.at(layer.name + ".weight_scale").dtype, floatName);
                QCOMPARE(bool(st.count(layer.name + ".weight_zero_point")), !(*w)["symmetric"].get<bool>());
                got = decodePacked(st, layer.name, *w);
                ++packedLayers;
                QCOMPARE(plan.tensors[size_t(hf_->layers[l].weight)].status == StoreStatus::Changed,
                         changed && (groupsExpected == 1 || layer.name.find("down_proj") == std::string::npos));
            } else { // the embedding: dequantized
                const StTensor& t = st.at(layer.name + ".weight");
                QCOMPARE(t.dtype, floatName);
                got = floatsOf(t);
                if (dtype != int(DType::F32))
                    for (float& v : expected)
                        v = halfToFloat(floatToFp16(v));
            }
            QVERIFY2(got.size() == expected.size(), layer.name.c_str());
            for (size_t i = 0; i < got.size(); ++i)
                if (got[i] != expected[i])
                    QFAIL(qPrintable(QStringLiteral("%1[%2]: %3, evaluated %4")
                                         .arg(QString::fromStdString(layer.name)).arg(i).arg(got[i]).arg(expected[i])));
        }
        QCOMPARE(packedLayers, size_t(4 * 7));
        // down_proj's 352 inputs are no whole number of groups of 128: said, as vLLM needs them whole.
        const auto& down = plan.tensors[size_t(hf_->findTensor("model.layers.0.mlp.down_proj.weight"))];
        QCOMPARE(down.reason.find("partial") != std::string::npos, groupSize == 128);

        // The norms as they are (F32) or rounded once (F16).
        const TensorInfo& norm = hf_->tensors[size_t(hf_->findTensor("model.norm.weight"))];
        const std::vector<float> normValues = hf_->readFloat(hf_->findTensor("model.norm.weight"));
        QCOMPARE(st.at(norm.name).dtype, floatName);
        QCOMPARE(floatsOf(st.at(norm.name)).front(),
                 dtype == int(DType::F32) ? normValues.front() : halfToFloat(floatToFp16(normValues.front())));
    }

    // A second decoder, in Python, unpacking as compressed-tensors does (shift, mask, minus
    // 2^(bits-1); zero points along dim 0), against the dense F32 export of the same recipe.
    void pythonDecoderAgrees()
    {
        QProcess probe;
        probe.start(QStringLiteral("python3"), {QStringLiteral("-c"), QStringLiteral("pass")});
        if (!probe.waitForFinished(30000) || probe.exitStatus() != QProcess::NormalExit || probe.exitCode() != 0)
            QSKIP("python3 is not installed");
        const char* script = R"PY(
import json, struct, sys
from array import array

def tensors(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    out = {}
    for k, v in header.items():
        a = array({'F32': 'f', 'I32': 'i', 'I64': 'q'}[v['dtype']])
        a.frombytes(data[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]])
        if sys.byteorder != 'little':
            a.byteswap()
        out[k] = (a, v['shape'])
    return out

packed_dir, dense_dir = sys.argv[1], sys.argv[2]
q = json.load(open(packed_dir + '/config.json'))['quantization_config']
p, d = tensors(packed_dir + '/model.safetensors'), tensors(dense_dir + '/model.safetensors')
checked = 0
for name in [k[:-len('.weight_packed')] for k in p if k.endswith('.weight_packed')]:
    w = next(g['weights'] for g in q['config_groups'].values() if 'Linear' in g['targets'] or name in g['targets'])
    bits = w['num_bits']
    pf, mask, offset = 32 // bits, (1 << bits) - 1, 1 << (bits - 1)
    rows, cols = p[name + '.weight_shape'][0]
    words, (_, per_row) = p[name + '.weight_packed']
    scale, (_, groups) = p[name + '.weight_scale']
    gs = w['group_size'] if w['strategy'] == 'group' else cols
    zero = lambda r, g: 0
    if not w['symmetric']:
        zw, _ = p[name + '.weight_zero_point']
        zero = lambda r, g: ((zw[(r // pf) * groups + g] >> (bits * (r % pf))) & mask) - offset
    dense, _ = d[name + '.weight']
    for r in range(rows):
        for c in range(cols):
            code = ((words[r * per_row + c // pf] >> (bits * (c % pf))) & mask) - offset
            g = c // gs
            value = array('f', [(code - zero(r, g)) * scale[r * groups + g]])[0]  # one rounding, as in float32
            if value != dense[r * cols + c]:
                print('differs:', name, r, c, value, dense[r * cols + c])
                sys.exit(1)
    checked += 1
print(checked)
)PY";
        for (const char* recipe : {R"({"precision":"int4","granularity":"group","group_size":128,"symmetric":false},
                                      "rules":[{"match":"down_proj","precision":"int8","granularity":"channel","symmetric":true}])",
                                   R"({"precision":"int3","granularity":"group","group_size":32})"}) {
            const auto configs =
                resolveConfigs(*hf_, Recipe::parse(std::string(R"({"bonsai_recipe":1,"defaults":)") + recipe + "}", "t"));
            const std::string packed = root_ + "/python-packed", dense = root_ + "/python-dense";
            fs::remove_all(packed);
            fs::remove_all(dense);
            exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, packed);
            exportModel(*hf_, configs, ExportFormat::Safetensors, dense);
            QProcess py;
            py.start(QStringLiteral("python3"), {QStringLiteral("-c"), QString::fromUtf8(script),
                                                 QString::fromStdString(packed), QString::fromStdString(dense)});
            QVERIFY(py.waitForFinished(120000));
            const QByteArray out = py.readAllStandardOutput().trimmed();
            QVERIFY2(py.exitCode() == 0, (out + py.readAllStandardError()).constData());
            QCOMPARE(out, QByteArray("28"));
        }
    }

    // A checkpoint made here: an untied lm_head (packed, not ignored, noted), a bias kept as
    // floats, 12 rows (zero points in 2 words of 8, the second half empty) and a layer at fp16.
    void handMadeCheckpoint()
    {
        const std::string dir = root_ + "/hand-made-src";
        fs::create_directories(dir);
        const std::vector<float> fc = testutil::gaussian(12 * 64, 1, 0.05f), head = testutil::gaussian(16 * 64, 2, 0.05f),
                                 keep = testutil::gaussian(8 * 64, 3, 0.05f);
        {
            std::ofstream(dir + "/model.safetensors", std::ios::binary)
                << testutil::makeSafetensors({{"fc.weight", "F32", {12, 64}, testutil::floatBytes(fc)},
                                              {"fc.bias", "F32", {12}, testutil::floatBytes(std::vector<float>(12, 0.5f))},
                                              {"keep.weight", "F32", {8, 64}, testutil::floatBytes(keep)},
                                              {"lm_head.weight", "F32", {16, 64}, testutil::floatBytes(head)}});
            std::ofstream(dir + "/config.json") << R"({"model_type":"test"})";
        }
        const auto m = Model::open(dir);
        const auto configs = resolveConfigs(*m, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4",
            "granularity":"group","group_size":32,"symmetric":false},"rules":[{"match":"keep","precision":"fp16"}]})", "t"));
        const std::string out = root_ + "/hand-made";
        const ExportPlan plan = exportModel(*m, configs, ExportFormat::SafetensorsPacked, out);
        const auto& headPlan = plan.tensors[size_t(m->findTensor("lm_head.weight"))];
        QVERIFY2(headPlan.reason.find("vLLM keeps lm_head") != std::string::npos, headPlan.reason.c_str());
        const json q = json::parse(testutil::readFile(out + "/config.json"))["quantization_config"];
        QCOMPARE(q["ignore"], json::array({"keep"}));
        QCOMPARE(q["config_groups"]["group_0"]["targets"], json::array({"Linear"}));
        const auto st = readSafetensors(out + "/model.safetensors");
        QCOMPARE(st.at("fc.weight_zero_point").shape, (std::vector<int64_t>{2, 2}));
        QCOMPARE(floatsOf(st.at("fc.bias")), std::vector<float>(12, 0.5f));
        QCOMPARE(st.at("keep.weight").dtype, std::string("F32"));
        for (const char* name : {"fc", "lm_head"}) {
            const int layer = [&] {
                for (size_t l = 0; l < m->layers.size(); ++l)
                    if (m->layers[l].name == name)
                        return int(l);
                return -1;
            }();
            std::vector<float> expected;
            compressLayer(*m, layer, configs[size_t(layer)], &expected);
            QCOMPARE(decodePacked(st, name, *schemeOf(q, name)), expected);
        }
    }

    void bf16ScalesAreChanged()
    {
        const auto configs = resolveConfigs(
            *hf_, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32}})", "t"));
        ExportOptions o;
        o.floatType = DType::BF16;
        const ExportPlan plan = planExport(*hf_, configs, ExportFormat::SafetensorsPacked, o);
        QVERIFY(plan.writable());
        const auto& q = plan.tensors[size_t(hf_->findTensor("model.layers.0.self_attn.q_proj.weight"))];
        QCOMPARE(q.status, StoreStatus::Changed);
        QVERIFY2(q.reason.find("BF16") != std::string::npos, q.reason.c_str());
    }

    void gptqWithoutCalibrationIsRoundToNearest()
    {
        const auto configs = resolveConfigs(*hf_, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4",
            "granularity":"group","group_size":32,"method":"gptq"}})", "t"));
        const ExportPlan plan = planExport(*hf_, configs, ExportFormat::SafetensorsPacked);
        QVERIFY(plan.writable());
        const int q = hf_->findTensor("model.layers.0.self_attn.q_proj.weight");
        QCOMPARE(plan.tensors[size_t(q)].status, StoreStatus::Changed);
        QVERIFY2(plan.tensors[size_t(q)].reason.find("calibration") != std::string::npos, plan.tensors[size_t(q)].reason.c_str());
        for (size_t l = 0; l < hf_->layers.size(); ++l)
            if (hf_->layers[l].op == "Linear")
                QCOMPARE(plan.configs[l].method, QuantMethod::RTN);
    }

    void fusedSchemesDifferNoted()
    {
        const std::string base = R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32})";
        const ExportPlan same = planExport(*hf_, resolveConfigs(*hf_, Recipe::parse(base + "}", "t")),
                                           ExportFormat::SafetensorsPacked);
        for (const auto& n : same.notes)
            QVERIFY2(n.find("fuses") == std::string::npos, n.c_str());
        const ExportPlan mixed = planExport(
            *hf_, resolveConfigs(*hf_, Recipe::parse(base + R"(,"rules":[{"match":"layers.2.self_attn.k_proj","precision":"int8"}]})", "t")),
            ExportFormat::SafetensorsPacked);
        bool noted = false;
        for (const auto& n : mixed.notes)
            noted |= n.find("fuses") != std::string::npos && n.find("model.layers.2.self_attn.{q_proj, k_proj}") != std::string::npos;
        QVERIFY(noted);
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("defaults");
        QTest::addColumn<QString>("reason");
        QTest::newRow("nf4") << R"({"precision":"nf4"})" << "no compressed-tensors encoding";
        QTest::newRow("fp8 e5m2") << R"({"precision":"fp8_e5m2"})" << "no compressed-tensors encoding";
        QTest::newRow("q4_k") << R"({"precision":"q4_k"})" << "no compressed-tensors encoding";
        QTest::newRow("rank") << R"({"precision":"int8","rank":16})" << "low rank";
        QTest::newRow("clip search") << R"({"precision":"int4","granularity":"group","group_size":32,"clip_search":true})"
                                     << "integer grid";
    }

    void refusals()
    {
        QFETCH(QString, defaults);
        QFETCH(QString, reason);
        const auto configs =
            resolveConfigs(*hf_, Recipe::parse(R"({"bonsai_recipe":1,"defaults":)" + defaults.toStdString() + "}", "t"));
        const ExportPlan plan = planExport(*hf_, configs, ExportFormat::SafetensorsPacked);
        QVERIFY(!plan.writable());
        bool found = false;
        for (const auto& p : plan.problems())
            found |= p.find(reason.toStdString()) != std::string::npos && p.find("proj") != std::string::npos;
        QVERIFY2(found, plan.problems().front().c_str());
        const std::string out = root_ + "/refused";
        QVERIFY_THROWS_EXCEPTION(Error, exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, out));
        QVERIFY(!fs::exists(out));
    }

    void refusalsLeaveNothing()
    {
        const auto configs = resolveConfigs(*hf_, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})", "t"));
        const std::string existing = root_ + "/existing";
        exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, existing);
        QVERIFY_THROWS_EXCEPTION(FileError, exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, existing));
        const auto cnn = Model::open(BONSAI_DEMO_MODEL);
        QVERIFY_THROWS_EXCEPTION(FileError, planExport(*cnn, {}, ExportFormat::SafetensorsPacked));
        const auto before = testutil::dirEntries(root_);
        QVERIFY_THROWS_EXCEPTION(Cancelled, exportModel(*hf_, configs, ExportFormat::SafetensorsPacked, root_ + "/cancelled",
                                                        {}, [](double f) { return f < 0.5; }));
        QCOMPARE(testutil::dirEntries(root_), before);
        // Unchanged: no quantization_config, every tensor as it was.
        ExportOptions o;
        o.overwrite = true;
        const ExportPlan plan = exportModel(*hf_, {}, ExportFormat::SafetensorsPacked, existing, o);
        QCOMPARE(testutil::dirEntries(root_), before);
        QVERIFY(!json::parse(testutil::readFile(existing + "/config.json")).contains("quantization_config"));
        QVERIFY(!plan.notes.empty());
        const auto st = readSafetensors(existing + "/model.safetensors");
        QCOMPARE(st.size(), hf_->tensors.size());
    }

private:
    std::unique_ptr<Model> hf_;
    std::string root_;
};

QTEST_APPLESS_MAIN(TstExportPacked)
#include "tst_export_packed.moc"
