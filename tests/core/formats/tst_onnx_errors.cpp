// Tests of the ONNX reader on bad input: corrupt protobufs, inconsistent tensors, bad
// external data and deep nesting must raise a FileError naming the fault, never crash.
#include "formats/onnx_model.h"
#include "onnx_build.h"

#include <random>

using namespace bonsai;
using namespace onnxtest;

class TstOnnxErrors : public QObject {
    Q_OBJECT
private slots:
    void externalDataErrors();
    void corruptFiles();
    void mutatedBytes();
    void badTensors();
    void deepNesting();
    void badDequantize();
    void unsupportedVersions();
};

void TstOnnxErrors::externalDataErrors()
{
    testutil::writeTemp("ext_small.bin", std::string(40, '\0'));
    EXPECT_FILE_ERROR(openError(save("e1.onnx", externalModel("ext_small.bin", "1000", "24"))),
                      "ext.weight");
    EXPECT_FILE_ERROR(openError(save("e2.onnx", externalModel("ext_small.bin", "20", "24"))),
                      "past the end");
    EXPECT_FILE_ERROR(openError(save("e3.onnx", externalModel("ext_small.bin", "0", "20"))),
                      "needs 24");
    EXPECT_FILE_ERROR(openError(save("e4.onnx", externalModel("missing_side.bin", "0", "24"))),
                      "missing_side.bin");
    EXPECT_FILE_ERROR(openError(save("e5.onnx", externalModel("/etc/passwd", "0", "24"))),
                      "absolute");
    EXPECT_FILE_ERROR(openError(save("e6.onnx", externalModel("../ext_small.bin", "0", "24"))),
                      "leaves");
    EXPECT_FILE_ERROR(openError(save("e7.onnx", externalModel("a/../../x.bin", "0", "24"))),
                      "leaves");
    EXPECT_FILE_ERROR(openError(save("e8.onnx", externalModel("ext_small.bin", "-4", "24"))),
                      "not a number");
    EXPECT_FILE_ERROR(openError(save("e9.onnx", externalModel("", "0", "24"))), "empty");
}

void TstOnnxErrors::corruptFiles()
{
    // Garbage bytes (a varint run that never ends, then noise).
    std::string garbage(64, '\xff');
    std::mt19937 rng(42);
    for (int i = 0; i < 512; ++i)
        garbage.push_back(static_cast<char>(rng() & 0xff));
    EXPECT_FILE_ERROR(openError(testutil::writeTemp("garbage.onnx", garbage)), "protobuf");

    // Random noise may even parse as a protobuf: a FileError or a model, never a crash.
    for (int seed = 0; seed < 50; ++seed) {
        std::mt19937 r(static_cast<unsigned>(seed));
        std::string noise;
        for (int i = 0; i < 300; ++i)
            noise.push_back(static_cast<char>(r() & 0xff));
        const QString e = openError(testutil::writeTemp("noise.onnx", noise));
        QVERIFY2(!e.startsWith("UNEXPECTED"), qPrintable(e));
    }

    // A valid model cut at many points: an error (or, at a field boundary, a smaller model).
    std::string full;
    mixedModel().SerializeToString(&full);
    EXPECT_FILE_ERROR(openError(testutil::writeTemp("half.onnx", full.substr(0, full.size() / 2))),
                      "protobuf");
    for (size_t cut = 8; cut < full.size(); cut += full.size() / 37 + 1) {
        const QString e = openError(testutil::writeTemp("cut.onnx", full.substr(0, cut)));
        QVERIFY2(!e.startsWith("UNEXPECTED"), qPrintable(e));
    }

    // A model without a graph, and one with an empty graph.
    onnx::ModelProto noGraph;
    noGraph.set_ir_version(8);
    noGraph.set_producer_name("nothing here");
    EXPECT_FILE_ERROR(openError(save("nograph.onnx", noGraph)), "no graph");
    EXPECT_FILE_ERROR(openError(save("empty.onnx", newModel())), "empty");
}

void TstOnnxErrors::mutatedBytes()
{
    // Random byte changes in a valid model (with its external data file present): each
    // mutant either loads, with every tensor inside its storage, or raises a FileError.
    std::string side(24, '\0');
    testutil::writeTemp("mut_ext.bin", side);
    onnx::ModelProto m = mixedModel();
    *m.mutable_graph()->add_initializer() = externalModel("mut_ext.bin", "0", "24").graph().initializer(0);
    std::string full;
    m.SerializeToString(&full);
    std::mt19937 rng(7);
    int loaded = 0;
    for (int i = 0; i < 400; ++i) {
        std::string bytes = full;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e)
            bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
        const std::string path = testutil::writeTemp("mutant.onnx", bytes);
        try {
            const auto model = Model::open(path);
            ++loaded;
            for (size_t t = 0; t < model->tensors.size(); ++t)
                model->readFloat(static_cast<int>(t)); // touches every byte (ASan-checked)
            for (const auto& l : model->layers) {
                QVERIFY(l.weight >= 0 && static_cast<size_t>(l.weight) < model->tensors.size());
                QVERIFY(l.bias < static_cast<int>(model->tensors.size()));
                QVERIFY(l.outAxis >= 0 && static_cast<size_t>(l.outAxis) <
                                              model->tensors[static_cast<size_t>(l.weight)].shape.size());
            }
        } catch (const FileError&) {
        }
    }
    QVERIFY(loaded > 0); // most single-byte changes hit weight values and still load
}

void TstOnnxErrors::badTensors()
{
    // Each case edits one initializer of a one-MatMul model.
    const auto withTensor = [](const std::function<void(onnx::TensorProto*)>& edit) {
        onnx::ModelProto m = newModel();
        auto* g = m.mutable_graph();
        auto* t = addInit(g, "bad.weight", {2, 3}, 1.0f);
        edit(t);
        addNode(g, "MatMul", {"x", "bad.weight"}, {"y"});
        return save("bad.onnx", m);
    };
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) {
                          t->mutable_raw_data()->resize(20);
                      })),
                      "bad.weight");
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) {
                          t->set_dims(0, int64_t(1) << 40);
                          t->set_dims(1, int64_t(1) << 40);
                      })),
                      "bad.weight");
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) {
                          t->set_dims(0, INT64_MAX);
                          t->set_dims(1, INT64_MAX);
                          t->add_dims(INT64_MAX);
                      })),
                      "overflowing");
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) { t->set_dims(0, -1); })),
                      "negative");
    // Typed field with the wrong number of values (and a huge shape it must not allocate).
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) {
                          t->clear_raw_data();
                          t->set_dims(0, int64_t(1) << 28);
                          t->add_float_data(1.0f);
                      })),
                      "float_data");
    EXPECT_FILE_ERROR(openError(withTensor([](onnx::TensorProto* t) {
                          t->clear_raw_data();
                          t->set_data_type(onnx::TensorProto::FLOAT16);
                          for (int i = 0; i < 5; ++i)
                              t->add_int32_data(0x3C00);
                      })),
                      "int32_data");
    // Unknown data type numbers are skipped, not fatal.
    const auto skipped = Model::open(withTensor([](onnx::TensorProto* t) { t->set_data_type(99); }));
    QCOMPARE(skipped->tensors.size(), size_t(0));
    QVERIFY(metaValue(*skipped, "skipped tensors").find("bad.weight") != std::string::npos);

    // Duplicate names, including across an initializer and a Constant.
    onnx::ModelProto dup = newModel();
    addInit(dup.mutable_graph(), "w", {2, 2}, 0.0f);
    addInit(dup.mutable_graph(), "w", {2, 2}, 1.0f);
    EXPECT_FILE_ERROR(openError(save("dup.onnx", dup)), "duplicate tensor name 'w'");
    onnx::ModelProto dup2 = newModel();
    addInit(dup2.mutable_graph(), "w", {2, 2}, 0.0f);
    auto* c = addNode(dup2.mutable_graph(), "Constant", {}, {"w"});
    auto* a = c->add_attribute();
    a->set_name("value");
    *a->mutable_t() = rawFloat("", {1}, {1.0f});
    EXPECT_FILE_ERROR(openError(save("dup2.onnx", dup2)), "duplicate");
}

// QDQ weights (DequantizeLinear of initializers) whose scales, axis or packed codes do not fit
// the codes are refused naming the node or tensor; a consistent one reads as one tensor.
void TstOnnxErrors::badDequantize()
{
    const auto qdq = [](int scales, int64_t axis, int64_t block, int codeType, size_t rawBytes) {
        onnx::ModelProto m = newModel();
        auto* g = m.mutable_graph();
        auto* q = g->add_initializer();
        q->set_name("w_q");
        q->set_data_type(codeType);
        q->add_dims(4);
        q->add_dims(6);
        q->set_raw_data(std::string(rawBytes, '\x13'));
        *g->add_initializer() = rawFloat("w_scale", scales == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{scales},
                                         std::vector<float>(size_t(scales), 0.5f));
        auto* dq = addNode(g, "DequantizeLinear", {"w_q", "w_scale"}, {"w"}, "dq");
        setInt(dq, "axis", axis);
        if (block)
            setInt(dq, "block_size", block);
        addNode(g, "MatMul", {"x", "w"}, {"y"});
        return save("qdq.onnx", m);
    };
    const auto ok = Model::open(qdq(6, 1, 0, onnx::TensorProto::INT8, 24));
    QCOMPARE(ok->tensors.size(), size_t(1)); // codes and scales are the weight's, no tensors of their own
    QCOMPARE(ok->tensors[0].name, std::string("w"));
    QCOMPARE(ok->tensors[0].storedType(), std::string("INT8 per axis + DequantizeLinear"));
    QCOMPARE(ok->tensors[0].storedBytes(), uint64_t(24 + 6 * 4));
    QCOMPARE(ok->readFloat(0)[5], 0x13 * 0.5f);
    EXPECT_FILE_ERROR(openError(qdq(5, 1, 0, onnx::TensorProto::INT8, 24)), "node 'dq': scale 'w_scale' has 5 values");
    EXPECT_FILE_ERROR(openError(qdq(6, 7, 0, onnx::TensorProto::INT8, 24)), "axis 7 is outside");
    EXPECT_FILE_ERROR(openError(qdq(6, 1, -2, onnx::TensorProto::INT8, 24)), "block_size -2");
    EXPECT_FILE_ERROR(openError(qdq(4, 1, 3, onnx::TensorProto::INT8, 24)), "has 4 values");
    EXPECT_FILE_ERROR(openError(qdq(8, 1, 3, 22, 11)), "'w_q' of type INT4 needs 12 bytes");
    const auto int4 = Model::open(qdq(8, 1, 3, 22, 12)); // blocks of 3 along 6 columns: 4 x 2 scales
    QCOMPARE(int4->tensors[0].storedType(), std::string("INT4 blocks of 3 + DequantizeLinear"));
    QCOMPARE(int4->readFloat(0)[0], 3 * 0.5f);  // low nibble 3
    QCOMPARE(int4->readFloat(0)[1], 1 * 0.5f);  // high nibble 1

    // Blocks along an empty axis (codes [0, 6]): no blocks, so two scales are two too many
    // (the block count divided by the axis length before).
    onnx::ModelProto empty = newModel();
    auto* g = empty.mutable_graph();
    auto* q = g->add_initializer();
    q->set_name("w_q");
    q->set_data_type(onnx::TensorProto::INT8);
    q->add_dims(0);
    q->add_dims(6);
    q->set_raw_data("");
    *g->add_initializer() = rawFloat("w_scale", {2}, {0.5f, 0.5f});
    auto* dq = addNode(g, "DequantizeLinear", {"w_q", "w_scale"}, {"w"}, "dq");
    setInt(dq, "axis", 0);
    setInt(dq, "block_size", 3);
    addNode(g, "MatMul", {"x", "w"}, {"y"});
    EXPECT_FILE_ERROR(openError(save("qdq_empty.onnx", empty)), "node 'dq': scale 'w_scale' has 2 values where the input's axis 0 needs 0");
}

void TstOnnxErrors::deepNesting()
{
    // If nodes nested far deeper than the reader accepts: an error, not a stack overflow.
    onnx::ModelProto m = newModel();
    onnx::GraphProto* g = m.mutable_graph();
    for (int depth = 0; depth < kOnnxMaxSubgraphDepth + 4; ++depth) {
        std::string out = "o";
        out += std::to_string(depth); // (not "o" + ...: GCC 12 -Wrestrict false positive)
        auto* n = addNode(g, "If", {"c"}, {out});
        auto* a = n->add_attribute();
        a->set_name("then_branch");
        a->set_type(onnx::AttributeProto::GRAPH);
        g = a->mutable_g();
    }
    addInit(g, "deep", {2, 2}, 0.0f);
    EXPECT_FILE_ERROR(openError(save("deep.onnx", m)), "nested");
}

void TstOnnxErrors::unsupportedVersions()
{
    // A valid one-node model with each IR version / default-domain opset: outside the range
    // the reader knows it is refused, naming the file, the version and the supported range.
    const auto model = [](int64_t ir, int64_t opset) {
        onnx::ModelProto m = newModel("versions");
        m.set_ir_version(ir);
        m.mutable_opset_import(0)->set_version(opset);
        auto* g = m.mutable_graph();
        addInput(g, "x", {1, 4});
        addNode(g, "Relu", {"x"}, {"y"});
        addOutput(g, "y");
        return m;
    };
    const auto check = [](const std::string& path, const char* a, const char* b) {
        const QString e = openError(path);
        EXPECT_FILE_ERROR(e, "not supported");
        QVERIFY2(e.startsWith(QString::fromStdString(path + ": ")), qPrintable(e));
        QVERIFY2(e.contains(QLatin1String(a)) && e.contains(QLatin1String(b)), qPrintable(e));
    };
    check(save("ir2.onnx", model(2, 13)), "IR version 2", "supported: 3 to 11");
    check(save("ir0.onnx", model(0, 13)), "IR version 0", "supported: 3 to 11");
    check(save("ir99.onnx", model(99, 13)), "IR version 99", "supported: 3 to 11");
    check(save("opset0.onnx", model(8, 0)), "opset 0", "supported: 1 to 23");
    check(save("opset99.onnx", model(8, 99)), "opset 99", "supported: 1 to 23");
    // The edges are accepted; another domain's opset is not the default domain's.
    QVERIFY(openError(save("ir3.onnx", model(3, 1))).isEmpty());
    QVERIFY(openError(save("ir11.onnx", model(11, 23))).isEmpty());
    onnx::ModelProto ml = model(8, 17);
    ml.mutable_opset_import(1)->set_version(99);
    QVERIFY(openError(save("ml99.onnx", ml)).isEmpty());
}

QTEST_APPLESS_MAIN(TstOnnxErrors)
#include "tst_onnx_errors.moc"
