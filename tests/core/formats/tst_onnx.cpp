// Tests of the ONNX reader on valid models. Models are built with libonnx's protobuf classes
// (an independent writer), serialised to temporary files and read back with
// Model::open/readOnnx. Bad input is covered by tst_onnx_errors.cpp.
#include "formats/onnx_model.h"
#include "onnx_build.h"
#include "bonsai/readers.h"

#include <cstring>
#include <filesystem>
#include <fstream>

using namespace bonsai;
using namespace onnxtest;

class TstOnnx : public QObject {
    Q_OBJECT
private slots:
    void mixedGraph();
    void typedFields();
    void constantNodes();
    void ifSubgraphs();
    void externalData();
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
    auto* f8 = g->add_initializer(); // FLOAT8E4M3FN (17) and FLOAT8E5M2 (19) in int32_data
    f8->set_name("f8a");
    f8->set_data_type(17);
    f8->add_dims(2);
    f8->add_int32_data(0x38); // 1.0
    f8->add_int32_data(0xC0); // -2.0
    auto* f8b = g->add_initializer();
    f8b->set_name("f8b");
    f8b->set_data_type(19);
    f8b->add_dims(1);
    f8b->add_int32_data(0x3C); // 1.0
    auto* str = g->add_initializer(); // STRING: skipped with a note
    str->set_name("labels");
    str->set_data_type(onnx::TensorProto::STRING);
    str->add_dims(1);
    str->add_string_data("cat");
    addNode(g, "MatMul", {"x", "typed.weight"}, {"y"});
    addNode(g, "MatMul", {"y", "half.weight"}, {"z"});

    const auto model = Model::open(save("typed.onnx", m));
    QCOMPARE(model->tensors.size(), size_t(8));
    QCOMPARE(model->findTensor("labels"), -1);
    QCOMPARE(model->tensors[static_cast<size_t>(model->findTensor("f8a"))].dtype, DType::F8_E4M3);
    QCOMPARE(model->readFloat(model->findTensor("f8a")), (std::vector<float>{1.0f, -2.0f}));
    QCOMPARE(model->readFloat(model->findTensor("f8b")), (std::vector<float>{1.0f}));
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
    // Models exported by PyTorch: layers with their ops, axes and biases.
    const std::string converted = "/usr/share/libonnx-testdata/data/pytorch-converted/";
    struct LayerCase {
        const char* name;
        const char* op;
        int axis;
        bool bias;
    };
    const LayerCase layerCases[] = {{"test_Linear", "Gemm", 0, true},
                                    {"test_ConvTranspose2d", "ConvTranspose", 1, true},
                                    {"test_Conv2d_no_bias", "Conv", 0, false},
                                    {"test_Embedding", "Gather", 0, false}};
    for (const auto& c : layerCases) {
        const std::string path = converted + c.name + "/model.onnx";
        if (!std::filesystem::exists(path))
            continue;
        const auto m = Model::open(path);
        QVERIFY2(m->layers.size() == 1, c.name);
        const Layer& l = m->layers[0];
        QVERIFY2(l.op == c.op, c.name);
        QVERIFY2(l.outAxis == c.axis, c.name);
        QVERIFY2((l.bias >= 0) == c.bias, c.name);
        QVERIFY2(!m->readFloat(l.weight).empty(), c.name);
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
