// Presets, layer roles and configuration descriptions (bonsai/presets.h, layer_role.h,
// describe.h). Expected roles come from the models' documented architectures: the demo CNN is
// conv, conv, Gemm 1600->128, Gemm 128->10 (train_demo.h); the tiny Llama fixture has
// embed_tokens and per-block projections, with the head tied to the embeddings
// (tests/data/tiny-llama/config.json: "tie_word_embeddings": true, so no lm_head tensor).
#include "testutil.h"

#include "bonsai/describe.h"
#include "bonsai/layer_role.h"
#include "bonsai/model.h"
#include "bonsai/presets.h"

#include <QtTest>

#include <map>
#include <set>

using namespace bonsai;

class TstPresets : public QObject {
    Q_OBJECT
private slots:
    void classifierOutputLayer()
    {
        const auto m = Model::open(BONSAI_DEMO_MODEL);
        QCOMPARE(m->layers.size(), size_t(4));
        QCOMPARE(layerRole(*m, 0), LayerRole::Weight); // conv
        QCOMPARE(layerRole(*m, 2), LayerRole::Weight); // fc1: Gemm, but fc2 follows
        QCOMPARE(m->layers[3].name, std::string("fc2"));
        QCOMPARE(layerRole(*m, 3), LayerRole::Output);
        const auto c = presetConfigs(Preset::Int4Group128, *m);
        QCOMPARE(c[3].precision.kind, PrecisionKind::FP16);
        for (int i : {0, 1, 2}) {
            QCOMPARE(c[size_t(i)].precision.kind, PrecisionKind::Int);
            QCOMPARE(c[size_t(i)].precision.bits, 4);
            QCOMPARE(c[size_t(i)].groupSize, 128);
        }
    }

    void languageModelRoles()
    {
        const auto m = Model::open(std::string(BONSAI_TEST_DATA) + "/tiny-llama");
        int embeddings = 0, outputs = 0;
        for (size_t i = 0; i < m->layers.size(); ++i) {
            const auto role = layerRole(*m, i);
            const std::string& name = m->layers[i].name;
            if (name.find("embed_tokens") != std::string::npos)
                QCOMPARE(role, LayerRole::Embedding);
            else if (name == "lm_head")
                QCOMPARE(role, LayerRole::Output);
            else
                QVERIFY2(role == LayerRole::Weight, name.c_str()); // q_proj, o_proj, down_proj, ...
            embeddings += role == LayerRole::Embedding;
            outputs += role == LayerRole::Output;
        }
        QCOMPARE(embeddings, 1);
        QCOMPARE(outputs, 0);
    }

    // Heads by name: Hugging Face lm_head and classifier, GGUF's top-level "output" (but not a
    // block's attention "output"), torchvision's top-level "fc".
    void rolesByName()
    {
        const std::string w = testutil::floatBytes({1, 2, 3, 4});
        const auto path = testutil::writeTemp("roles.safetensors", testutil::makeSafetensors(
            {{"model.embed_tokens.weight", "F32", {2, 2}, w},
             {"model.layers.0.self_attn.o_proj.weight", "F32", {2, 2}, w},
             {"blk.0.attn_output.weight", "F32", {2, 2}, w},
             {"output.weight", "F32", {2, 2}, w},
             {"lm_head.weight", "F32", {2, 2}, w},
             {"classifier.weight", "F32", {2, 2}, w},
             {"fc.weight", "F32", {2, 2}, w},
             {"layer1.fc.weight", "F32", {2, 2}, w}}));
        const auto m = Model::open(path);
        std::map<std::string, LayerRole> roles;
        for (size_t i = 0; i < m->layers.size(); ++i)
            roles[m->layers[i].name] = layerRole(*m, i);
        QCOMPARE(roles.size(), size_t(8));
        QCOMPARE(roles["model.embed_tokens"], LayerRole::Embedding);
        QCOMPARE(roles["model.layers.0.self_attn.o_proj"], LayerRole::Weight);
        QCOMPARE(roles["blk.0.attn_output"], LayerRole::Weight);
        QCOMPARE(roles["output"], LayerRole::Output);
        QCOMPARE(roles["lm_head"], LayerRole::Output);
        QCOMPARE(roles["classifier"], LayerRole::Output);
        QCOMPARE(roles["fc"], LayerRole::Output);
        QCOMPARE(roles["layer1.fc"], LayerRole::Weight);
    }

    void keysAreUniqueAndFound()
    {
        std::set<std::string_view> keys;
        for (const auto& p : presets()) {
            QVERIFY(keys.insert(p.key).second);
            QCOMPARE(*presetByKey(p.key), p.preset);
            QVERIFY(!p.name.empty() && !p.help.empty());
        }
        QCOMPARE(keys.size(), size_t(Preset::NUM_PRESETS));
        QVERIFY(!presetByKey("int5"));
    }

    void descriptions()
    {
        LayerConfig c;
        QCOMPARE(shortPrecision(c), std::string("unchanged"));
        QCOMPARE(shortSparsity(c), std::string("—"));
        QCOMPARE(shortRank(c), std::string("—"));
        QCOMPARE(configSummary({c, c}), std::string("uncompressed"));
        QCOMPARE(runLabel({c}), std::string("uncompressed"));
        c.precision = {PrecisionKind::Int, 4};
        c.granularity = Granularity::Group;
        c.groupSize = 32;
        c.symmetric = false;
        c.method = QuantMethod::GPTQ;
        QCOMPARE(shortPrecision(c), std::string("int4 g32 asym gptq"));
        QCOMPARE(describe(c), std::string("int4 group 32 asym gptq"));
        QCOMPARE(runLabel({c, c, LayerConfig{}}), std::string("GPTQ int4 g32"));
        LayerConfig s;
        s.sparsity = 0.3;
        s.pattern = SparsityPattern::Channels;
        s.scope = SparsityScope::Global;
        s.energy = 0.95;
        QCOMPARE(shortSparsity(s), std::string("30% channels (global)"));
        QCOMPARE(shortRank(s), std::string("95% energy"));
        QCOMPARE(runLabel({c, s}), std::string("GPTQ int4 g32 (+1 other)"));
        QCOMPARE(configSummary({c, c, LayerConfig{}}),
                 std::string("2× int4 group 32 asym gptq, 1× unchanged"));
        LayerConfig nm;
        nm.pattern = SparsityPattern::NM;
        nm.n = 2;
        nm.m = 4;
        QCOMPARE(shortSparsity(nm), std::string("2:4"));
    }
};

QTEST_APPLESS_MAIN(TstPresets)
#include "tst_presets.moc"
