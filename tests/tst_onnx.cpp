// Tests of the ONNX reader. Models are built here with libonnx's protobuf classes (an
// independent writer), serialised to temporary files and read back with Model::open/readOnnx.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/onnx_model.h"
#include "testutil.h"

#include <onnx/onnx-ml.pb.h>

#include <QtTest>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

using namespace bonsai;

namespace {

// --- model building helpers ---

// Deterministic, distinct values for a tensor of n elements.
std::vector<float> pattern(size_t n, float base)
{
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = base + 0.25f * static_cast<float>(i) - 0.5f * static_cast<float>(i % 3);
    return v;
}

size_t count(const std::vector<int64_t>& dims)
{
    size_t n = 1;
    for (auto d : dims)
        n *= static_cast<size_t>(d);
    return n;
}

// FLOAT tensor with raw_data.
onnx::TensorProto rawFloat(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<float>& values)
{
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims)
        t.add_dims(d);
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
    return t;
}

onnx::TensorProto* addInit(onnx::GraphProto* g, const std::string& name,
                           const std::vector<int64_t>& dims, float base)
{
    auto* t = g->add_initializer();
    *t = rawFloat(name, dims, pattern(count(dims), base));
    return t;
}

onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op,
                         const std::vector<std::string>& in, const std::vector<std::string>& out,
                         const std::string& name = {})
{
    auto* n = g->add_node();
    n->set_op_type(op);
    if (!name.empty())
        n->set_name(name);
    for (const auto& s : in)
        n->add_input(s);
    for (const auto& s : out)
        n->add_output(s);
    return n;
}

void setInt(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

onnx::ModelProto newModel(const std::string& graphName = "g")
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("tst_onnx");
    m.set_producer_version("1.0");
    m.set_model_version(3);
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(17);
    auto* ml = m.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(3);
    m.mutable_graph()->set_name(graphName);
    return m;
}

std::string save(const std::string& file, const onnx::ModelProto& m)
{
    std::string bytes;
    if (!m.SerializeToString(&bytes))
        qFatal("cannot serialise the test model");
    return testutil::writeTemp(file, bytes);
}

// The message of the FileError thrown by f, or an empty string when none is thrown. Other
// exceptions come back as "UNEXPECTED ..." so that EXPECT_FILE_ERROR reports them.
QString errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const FileError& e) {
        return QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        return QStringLiteral("UNEXPECTED EXCEPTION TYPE: ") + QString::fromStdString(e.what());
    }
    return {};
}

QString openError(const std::string& path)
{
    return errorOf([&] { Model::open(path); });
}

#define EXPECT_FILE_ERROR(msg, needle)                                                        \
    do {                                                                                      \
        const QString m_ = (msg);                                                             \
        QVERIFY2(!m_.isEmpty(), "no error was raised");                                      \
        QVERIFY2(!m_.startsWith("UNEXPECTED"), qPrintable(m_));                               \
        QVERIFY2(m_.contains(QStringLiteral(needle)), qPrintable(m_));                        \
    } while (0)

const Layer* layerOf(const Model& m, const std::string& weight)
{
    const int w = m.findTensor(weight);
    for (const auto& l : m.layers)
        if (l.weight == w)
            return &l;
    return nullptr;
}

std::string metaValue(const Model& m, const std::string& key)
{
    for (const auto& [k, v] : m.metadata)
        if (k == key)
            return v;
    return {};
}

// Conv -> Gemm(transB=1) -> MatMul -> Add(bias) -> Gemm(transB=0), plus an embedding Gather
// and an int64 shape initializer.
onnx::ModelProto mixedModel()
{
    onnx::ModelProto m = newModel("mixed");
    auto* md = m.add_metadata_props();
    md->set_key("author");
    md->set_value("bonsai tests");
    auto* g = m.mutable_graph();
    addInit(g, "conv1.weight", {4, 3, 3, 3}, 1.0f);
    addInit(g, "conv1.bias", {4}, -1.0f);
    addInit(g, "fc1.weight", {16, 144}, 0.5f);
    addInit(g, "fc1.bias", {16}, 2.0f);
    addInit(g, "proj.weight", {16, 8}, -3.0f);
    addInit(g, "proj.bias", {8}, 7.0f);
    addInit(g, "head", {8, 5}, 4.0f);
    addInit(g, "head_bias", {5}, 9.0f);
    addInit(g, "emb.weight", {10, 4}, 0.0f);
    auto* shape = g->add_initializer();
    shape->set_name("flat_shape");
    shape->set_data_type(onnx::TensorProto::INT64);
    shape->add_dims(2);
    shape->add_int64_data(1);
    shape->add_int64_data(144);
    addNode(g, "Gather", {"emb.weight", "ids"}, {"e"}, "embed");
    addNode(g, "Conv", {"x", "conv1.weight", "conv1.bias"}, {"c"}, "conv1");
    addNode(g, "Reshape", {"c", "flat_shape"}, {"f"}, "flatten");
    setInt(addNode(g, "Gemm", {"f", "fc1.weight", "fc1.bias"}, {"g1"}, "fc1"), "transB", 1);
    addNode(g, "MatMul", {"g1", "proj.weight"}, {"m1"}, "proj");
    addNode(g, "Add", {"proj.bias", "m1"}, {"a1"}, "proj_add");
    addNode(g, "Gemm", {"a1", "head", "head_bias"}, {"y"}); // unnamed, transB = 0
    return m;
}

} // namespace

class TstOnnx : public QObject {
    Q_OBJECT
private slots:
    void mixedGraph();
    void typedFields();
    void constantNodes();
    void ifSubgraphs();
    void externalData();
    void externalDataErrors();
    void corruptFiles();
    void badTensors();
    void deepNesting();
    void realTestModels();
};

void TstOnnx::mixedGraph()
{
    const std::string path = save("mixed.onnx", mixedModel());
    const auto m = Model::open(path);
    QCOMPARE(m->format, Format::Onnx);
    QCOMPARE(m->tensors.size(), size_t(10));
    QVERIFY(onnxProto(*m) != nullptr);
    QCOMPARE(onnxProto(*m)->graph().name(), std::string("mixed"));
    QCOMPARE(onnxNodes(*onnxProto(*m)).size(), size_t(7));

    // Layers: the five float weights of rank >= 2; not the biases, not the int64 shape.
    QCOMPARE(m->layers.size(), size_t(5));
    const Layer* conv = layerOf(*m, "conv1.weight");
    QVERIFY(conv);
    QCOMPARE(conv->op, std::string("Conv"));
    QCOMPARE(conv->name, std::string("conv1"));
    QCOMPARE(conv->node, std::string("conv1"));
    QCOMPARE(conv->outAxis, 0);
    QCOMPARE(conv->bias, m->findTensor("conv1.bias"));

    const Layer* fc = layerOf(*m, "fc1.weight");
    QVERIFY(fc);
    QCOMPARE(fc->op, std::string("Gemm"));
    QCOMPARE(fc->outAxis, 0);
    QCOMPARE(fc->bias, m->findTensor("fc1.bias"));

    const Layer* proj = layerOf(*m, "proj.weight");
    QVERIFY(proj);
    QCOMPARE(proj->op, std::string("MatMul"));
    QCOMPARE(proj->outAxis, 1);
    QCOMPARE(proj->bias, m->findTensor("proj.bias")); // via Add(bias, MatMul output)

    const Layer* head = layerOf(*m, "head");
    QVERIFY(head);
    QCOMPARE(head->op, std::string("Gemm"));
    QCOMPARE(head->name, std::string("head"));
    QCOMPARE(head->outAxis, 1); // transB = 0: B is [K, N]
    QCOMPARE(head->bias, m->findTensor("head_bias"));
    QCOMPARE(head->node, std::string("Gemm_6"));

    const Layer* emb = layerOf(*m, "emb.weight");
    QVERIFY(emb);
    QCOMPARE(emb->op, std::string("Gather"));
    QCOMPARE(emb->outAxis, 0);
    QCOMPARE(emb->bias, -1);
    QVERIFY(!layerOf(*m, "flat_shape"));

    // Shapes, storage and values.
    const TensorInfo& w = m->tensors[static_cast<size_t>(conv->weight)];
    QCOMPARE(w.shape, (std::vector<int64_t>{4, 3, 3, 3}));
    QCOMPARE(w.dtype, DType::F32);
    QCOMPARE(w.nbytes, uint64_t(4 * 27 * 4));
    QCOMPARE(m->readFloat(conv->weight), pattern(108, 1.0f));
    QCOMPARE(m->readFloat(fc->weight), pattern(16 * 144, 0.5f));
    QCOMPARE(m->readFloat(proj->bias), pattern(8, 7.0f));
    float partial[4];
    m->readFloat(head->weight, 4, 4, partial);
    QCOMPARE(partial[0], pattern(40, 4.0f)[4]);
    const int s = m->findTensor("flat_shape");
    QCOMPARE(m->tensors[static_cast<size_t>(s)].dtype, DType::I64);
    QCOMPARE(m->readFloat(s), (std::vector<float>{1.0f, 144.0f}));
    // raw_data is not copied: it points into the kept proto.
    const auto& proto = *onnxProto(*m);
    QCOMPARE(static_cast<const void*>(w.data),
             static_cast<const void*>(proto.graph().initializer(0).raw_data().data()));

    // Metadata.
    QCOMPARE(metaValue(*m, "ir_version"), std::string("8"));
    QCOMPARE(metaValue(*m, "producer"), std::string("tst_onnx 1.0"));
    QCOMPARE(metaValue(*m, "model_version"), std::string("3"));
    QCOMPARE(metaValue(*m, "graph"), std::string("mixed"));
    QCOMPARE(metaValue(*m, "opset"), std::string("17"));
    QCOMPARE(metaValue(*m, "opset ai.onnx.ml"), std::string("3"));
    QCOMPARE(metaValue(*m, "nodes"), std::string("7"));
    QVERIFY(metaValue(*m, "ops").find("Gemm x2") != std::string::npos);
    QCOMPARE(metaValue(*m, "author"), std::string("bonsai tests"));

    // readOnnx directly, on a file without the .onnx extension.
    std::string bytes;
    mixedModel().SerializeToString(&bytes);
    const auto m2 = readOnnx(testutil::writeTemp("mixed.bin", bytes));
    QCOMPARE(m2->layers.size(), size_t(5));
}

void TstOnnx::typedFields()
{
    onnx::ModelProto m = newModel();
    auto* g = m.mutable_graph();
    auto* f = g->add_initializer(); // FLOAT through float_data
    f->set_name("typed.weight");
    f->set_data_type(onnx::TensorProto::FLOAT);
    f->add_dims(2);
    f->add_dims(3);
    for (float v : {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.125f})
        f->add_float_data(v);
    auto* h = g->add_initializer(); // FLOAT16 bit patterns in int32_data
    h->set_name("half.weight");
    h->set_data_type(onnx::TensorProto::FLOAT16);
    h->add_dims(2);
    h->add_dims(2);
    for (int32_t bits : {0x3C00, 0xC000, 0x3800, 0x7BFF}) // 1, -2, 0.5, 65504
        h->add_int32_data(bits);
    auto* b = g->add_initializer(); // BFLOAT16 in int32_data
    b->set_name("bf");
    b->set_data_type(onnx::TensorProto::BFLOAT16);
    b->add_dims(2);
    b->add_int32_data(0x3F80); // 1
    b->add_int32_data(0xC040); // -3
    auto* i8 = g->add_initializer(); // INT8 values in int32_data
    i8->set_name("q");
    i8->set_data_type(onnx::TensorProto::INT8);
    i8->add_dims(3);
    for (int32_t v : {-128, 5, 127})
        i8->add_int32_data(v);
    auto* d = g->add_initializer(); // DOUBLE in double_data
    d->set_name("dbl");
    d->set_data_type(onnx::TensorProto::DOUBLE);
    d->add_dims(2);
    d->add_double_data(0.5);
    d->add_double_data(-4.0);
    auto* u = g->add_initializer(); // UINT32 in uint64_data
    u->set_name("u32");
    u->set_data_type(onnx::TensorProto::UINT32);
    u->add_dims(1);
    u->add_uint64_data(4000000000u);
    auto* str = g->add_initializer(); // STRING: skipped with a note
    str->set_name("labels");
    str->set_data_type(onnx::TensorProto::STRING);
    str->add_dims(1);
    str->add_string_data("cat");
    addNode(g, "MatMul", {"x", "typed.weight"}, {"y"});
    addNode(g, "MatMul", {"y", "half.weight"}, {"z"});

    const auto model = Model::open(save("typed.onnx", m));
    QCOMPARE(model->tensors.size(), size_t(6));
    QCOMPARE(model->findTensor("labels"), -1);
    QVERIFY(metaValue(*model, "skipped tensors").find("labels") != std::string::npos);
    QCOMPARE(model->readFloat(model->findTensor("typed.weight")),
             (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.125f}));
    const int hi = model->findTensor("half.weight");
    QCOMPARE(model->tensors[static_cast<size_t>(hi)].dtype, DType::F16);
    QCOMPARE(model->tensors[static_cast<size_t>(hi)].nbytes, uint64_t(8));
    QCOMPARE(model->readFloat(hi), (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f}));
    QCOMPARE(model->readFloat(model->findTensor("bf")), (std::vector<float>{1.0f, -3.0f}));
    QCOMPARE(model->readFloat(model->findTensor("q")), (std::vector<float>{-128.0f, 5.0f, 127.0f}));
    QCOMPARE(model->readFloat(model->findTensor("dbl")), (std::vector<float>{0.5f, -4.0f}));
    QCOMPARE(model->readFloat(model->findTensor("u32")), (std::vector<float>{4000000000.0f}));
    // Both float weights are MatMul layers, the FP16 one included.
    QCOMPARE(model->layers.size(), size_t(2));
    QVERIFY(layerOf(*model, "half.weight"));
    QCOMPARE(layerOf(*model, "half.weight")->name, std::string("half"));
    QCOMPARE(layerOf(*model, "half.weight")->node, std::string("MatMul_1"));
}

void TstOnnx::constantNodes()
{
    onnx::ModelProto m = newModel();
    auto* g = m.mutable_graph();
    auto* c = addNode(g, "Constant", {}, {"const_w"}, "make_w");
    auto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = rawFloat("ignored_name", {3, 2}, pattern(6, 5.0f));
    auto* c2 = addNode(g, "Constant", {}, {"scale"});
    auto* a2 = c2->add_attribute();
    a2->set_name("value_floats");
    a2->set_type(onnx::AttributeProto::FLOATS);
    a2->add_floats(0.5f);
    a2->add_floats(2.0f);
    auto* c3 = addNode(g, "Constant", {}, {"axis"});
    setInt(c3, "value_int", 1);
    addNode(g, "MatMul", {"x", "const_w"}, {"y"}, "mm");

    const auto model = Model::open(save("constant.onnx", m));
    QCOMPARE(model->tensors.size(), size_t(3));
    const int w = model->findTensor("const_w");
    QVERIFY(w >= 0);
    QCOMPARE(model->findTensor("ignored_name"), -1);
    QCOMPARE(model->readFloat(w), pattern(6, 5.0f));
    QCOMPARE(model->readFloat(model->findTensor("scale")), (std::vector<float>{0.5f, 2.0f}));
    const int ax = model->findTensor("axis");
    QCOMPARE(model->tensors[static_cast<size_t>(ax)].dtype, DType::I64);
    QVERIFY(model->tensors[static_cast<size_t>(ax)].shape.empty());
    QCOMPARE(model->readFloat(ax), (std::vector<float>{1.0f}));
    QCOMPARE(model->layers.size(), size_t(1));
    QCOMPARE(model->layers[0].weight, w);
    QCOMPARE(model->layers[0].op, std::string("MatMul"));
    QCOMPARE(model->layers[0].outAxis, 1);
    QCOMPARE(model->layers[0].node, std::string("mm"));
}

void TstOnnx::ifSubgraphs()
{
    onnx::ModelProto m = newModel();
    auto* g = m.mutable_graph();
    auto* ifNode = addNode(g, "If", {"cond"}, {"out"}, "branch");
    auto* thenAttr = ifNode->add_attribute();
    thenAttr->set_name("then_branch");
    thenAttr->set_type(onnx::AttributeProto::GRAPH);
    auto* thenG = thenAttr->mutable_g();
    thenG->set_name("then");
    addInit(thenG, "then.weight", {4, 3}, 1.0f);
    addNode(thenG, "MatMul", {"x", "then.weight"}, {"then_out"}, "then_mm");
    auto* elseAttr = ifNode->add_attribute();
    elseAttr->set_name("else_branch");
    elseAttr->set_type(onnx::AttributeProto::GRAPH);
    auto* elseG = elseAttr->mutable_g();
    elseG->set_name("else");
    auto* c = addNode(elseG, "Constant", {}, {"else_w"}, "else_const");
    auto* v = c->add_attribute();
    v->set_name("value");
    v->set_type(onnx::AttributeProto::TENSOR);
    *v->mutable_t() = rawFloat("", {4, 2}, pattern(8, -1.0f));
    addNode(elseG, "MatMul", {"x", "else_w"}, {"else_out"}, "else_mm");

    const auto model = Model::open(save("if.onnx", m));
    QCOMPARE(model->tensors.size(), size_t(2));
    QCOMPARE(model->readFloat(model->findTensor("then.weight")), pattern(12, 1.0f));
    QCOMPARE(model->readFloat(model->findTensor("else_w")), pattern(8, -1.0f));
    QCOMPARE(model->layers.size(), size_t(2));
    QCOMPARE(layerOf(*model, "then.weight")->node, std::string("then_mm"));
    QCOMPARE(layerOf(*model, "then.weight")->name, std::string("then"));
    QCOMPARE(layerOf(*model, "else_w")->node, std::string("else_mm"));
    QCOMPARE(layerOf(*model, "else_w")->outAxis, 1);
    QCOMPARE(metaValue(*model, "nodes"), std::string("4"));
    QCOMPARE(metaValue(*model, "subgraphs"), std::string("2"));
}

namespace {

// A model whose single MatMul weight "ext.weight" [2, 3] lives in a side file.
onnx::ModelProto externalModel(const std::string& location, const std::string& offset,
                               const std::string& length)
{
    onnx::ModelProto m = newModel();
    auto* g = m.mutable_graph();
    auto* t = g->add_initializer();
    t->set_name("ext.weight");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(2);
    t->add_dims(3);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    const std::pair<std::string, std::string> entries[] = {
        {"location", location}, {"offset", offset}, {"length", length}};
    for (const auto& [k, v] : entries) {
        if (v.empty())
            continue;
        auto* e = t->add_external_data();
        e->set_key(k);
        e->set_value(v);
    }
    addNode(g, "MatMul", {"x", "ext.weight"}, {"y"});
    return m;
}

} // namespace

void TstOnnx::externalData()
{
    std::string side(16, 'x'); // a header the offset skips
    const auto values = pattern(6, 3.0f);
    side.append(reinterpret_cast<const char*>(values.data()), 24);
    side.append(8, 'z'); // trailing bytes of other tensors
    const std::string sidePath = testutil::writeTemp("ext_weights.bin", side);

    const auto m = Model::open(save("ext.onnx", externalModel("ext_weights.bin", "16", "24")));
    QCOMPARE(m->tensors.size(), size_t(1));
    const TensorInfo& t = m->tensors[0];
    QCOMPARE(t.fileOffset, uint64_t(16));
    QCOMPARE(std::filesystem::path(t.file), std::filesystem::path(sidePath));
    QCOMPARE(m->readFloat(0), values);
    QCOMPARE(m->files.size(), size_t(1));
    QCOMPARE(m->layers.size(), size_t(1));
    QCOMPARE(metaValue(*m, "external data files"), std::string("1"));

    // Without a length the data runs to the end of the file.
    std::string exact(reinterpret_cast<const char*>(values.data()), 24);
    testutil::writeTemp("ext_exact.bin", exact);
    const auto m2 = Model::open(save("ext2.onnx", externalModel("ext_exact.bin", "", "")));
    QCOMPARE(m2->readFloat(0), values);
}

void TstOnnx::externalDataErrors()
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

void TstOnnx::corruptFiles()
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

void TstOnnx::badTensors()
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

void TstOnnx::deepNesting()
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

void TstOnnx::realTestModels()
{
    const std::string dir = "/usr/share/libonnx-testdata/data/node/";
    if (!std::filesystem::is_directory(dir))
        QSKIP("libonnx-testdata is not installed");
    struct Case {
        const char* name;
        size_t tensors;
        size_t nodes;
    };
    // Node tests keep their operands as graph inputs; Constant nodes carry the tensors.
    const Case cases[] = {{"test_conv_with_strides_padding", 0, 1},
                          {"test_gemm_default_matrix_bias", 0, 1},
                          {"test_constant", 1, 1},
                          {"test_if", 2, 3},
                          {"test_loop11", 2, 10}};
    for (const auto& c : cases) {
        const std::string path = dir + c.name + "/model.onnx";
        if (!std::filesystem::exists(path))
            continue;
        const auto m = Model::open(path);
        QVERIFY2(m->tensors.size() == c.tensors, c.name);
        QVERIFY2(onnxNodes(*onnxProto(*m)).size() == c.nodes, c.name);
        QVERIFY2(metaValue(*m, "nodes") == std::to_string(c.nodes), c.name);
        QVERIFY2(!metaValue(*m, "opset").empty(), c.name);
    }
    // The Constant's value is the test's expected output.
    const std::string constant = dir + "test_constant/";
    if (std::filesystem::exists(constant + "test_data_set_0/output_0.pb")) {
        std::ifstream f(constant + "test_data_set_0/output_0.pb", std::ios::binary);
        onnx::TensorProto expected;
        QVERIFY(expected.ParseFromIstream(&f));
        const auto m = Model::open(constant + "model.onnx");
        const int t = m->findTensor("values");
        QVERIFY(t >= 0);
        const auto got = m->readFloat(t);
        QCOMPARE(got.size() * 4, expected.raw_data().size());
        QVERIFY(std::memcmp(got.data(), expected.raw_data().data(), expected.raw_data().size()) == 0);
        QCOMPARE(m->layers.size(), size_t(0)); // the Constant feeds no weight-consuming op
    }
}

QTEST_APPLESS_MAIN(TstOnnx)
#include "tst_onnx.moc"
