// Recipes: parsing, key-by-key overrides, every error, save/reload, warnings.
#include "testutil.h"
#include "bonsai/describe.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <QtTest>

using namespace bonsai;

class TstRecipe : public QObject {
    Q_OBJECT
private slots:
    void issueExample();
    void precisionNames();
    void rankAndEnergyAreAlternatives();
    void errors_data();
    void errors();
    void lazyQuantifiersAccepted();
    void saveReload();
    void fromConfigsRoundTrip();
    void unmatchedRuleWarns();
    void calibratedMethods();
};

static const char* kExample = R"({ "bonsai_recipe": 1,
  "defaults": { "precision": "fp16" },
  "rules": [
    { "match": "conv.*", "precision": "int8", "granularity": "channel" },
    { "match": "fc1", "precision": "int4", "granularity": "group", "group_size": 128,
      "symmetric": false, "sparsity": 0.5, "sparsity_pattern": "unstructured" },
    { "match": "fc2", "rank": 16 } ] })";

void TstRecipe::issueExample()
{
    const Recipe r = Recipe::parse(kExample);
    const LayerConfig conv = r.resolve("features.conv1");
    QCOMPARE(precisionName(conv.precision), std::string("int8"));
    QCOMPARE(conv.granularity, Granularity::PerChannel);
    const LayerConfig fc1 = r.resolve("classifier.fc1");
    QCOMPARE(precisionName(fc1.precision), std::string("int4"));
    QCOMPARE(fc1.granularity, Granularity::Group);
    QCOMPARE(fc1.groupSize, 128u);
    QCOMPARE(fc1.symmetric, false);
    QCOMPARE(fc1.sparsity, 0.5);
    QCOMPARE(fc1.pattern, SparsityPattern::Unstructured);
    const LayerConfig fc2 = r.resolve("classifier.fc2");
    QCOMPARE(precisionName(fc2.precision), std::string("fp16")); // from defaults
    QCOMPARE(fc2.rank, 16);
    QCOMPARE(fc2.sparsity, 0.0);
    const LayerConfig other = r.resolve("head");
    QCOMPARE(precisionName(other.precision), std::string("fp16"));
    QVERIFY(!other.hasRank());
    // Later rules override earlier ones key by key: a second rule on fc1 changes only bits.
    const Recipe r2 = Recipe::parse(R"({"bonsai_recipe":1,"rules":[
        {"match":"fc","precision":"int4","granularity":"group","group_size":64},
        {"match":"fc1$","precision":"int3"}]})");
    const LayerConfig c = r2.resolve("fc1");
    QCOMPARE(precisionName(c.precision), std::string("int3"));
    QCOMPARE(c.granularity, Granularity::Group);
    QCOMPARE(c.groupSize, 64u);
    QCOMPARE(precisionName(r2.resolve("xfc10").precision), std::string("int4")); // searched, not anchored
}

void TstRecipe::precisionNames()
{
    for (const char* n : {"fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "int2", "int3", "int4", "int5", "int6",
                          "int7", "int8", "nf4", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"}) {
        auto p = parsePrecision(n);
        QVERIFY2(p.has_value(), n);
        QCOMPARE(precisionName(*p), std::string(n));
    }
    QVERIFY(!parsePrecision("int1"));
    QVERIFY(!parsePrecision("int9"));
    QVERIFY(!parsePrecision("q8_k")); // a ggml type without a quantizer here
    QVERIFY(!parsePrecision("INT8"));
}

void TstRecipe::rankAndEnergyAreAlternatives()
{
    const Recipe r = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"energy":0.9},"rules":[{"match":"a","rank":8}]})");
    QCOMPARE(r.resolve("a").rank, 8);
    QCOMPARE(r.resolve("a").energy, 0.0);
    QCOMPARE(r.resolve("b").energy, 0.9);
    const Recipe nm = Recipe::parse(R"({"bonsai_recipe":1,"rules":[{"match":"a","sparsity_pattern":"4:8"}]})");
    QCOMPARE(nm.resolve("a").pattern, SparsityPattern::NM);
    QCOMPARE(nm.resolve("a").n, 4);
    QCOMPARE(nm.resolve("a").m, 8);
}

void TstRecipe::errors_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("expected");
    QTest::newRow("not json") << "{" << "not valid JSON";
    QTest::newRow("array") << "[]" << "must be a JSON object";
    QTest::newRow("no version") << R"({"rules":[]})" << "missing key 'bonsai_recipe'";
    QTest::newRow("version 2") << R"({"bonsai_recipe":2})" << "unsupported version 2";
    QTest::newRow("top key") << R"({"bonsai_recipe":1,"rulez":[]})" << "unknown key 'rulez'";
    QTest::newRow("rules type") << R"({"bonsai_recipe":1,"rules":{}})" << "'rules' must be an array";
    QTest::newRow("rule no match") << R"({"bonsai_recipe":1,"rules":[{"precision":"int8"}]})" << "rule 1: missing key 'match'";
    QTest::newRow("bad regex") << R"({"bonsai_recipe":1,"rules":[{"match":"fc("}]})" << "invalid regular expression";
    // Patterns whose backtracking is exponential in the layer name's length, or that nest
    // deep enough to overflow the stack while compiling, are refused before use.
    QTest::newRow("nested star") << R"({"bonsai_recipe":1,"rules":[{"match":"(.*)*x"}]})" << "rule 1: key 'match' \"(.*)*x\" repeats the group \"(.*)*\"";
    QTest::newRow("repeated alternation") << R"({"bonsai_recipe":1,"rules":[{"match":"^(a|ab)+$"}]})" << "repeats the group \"(a|ab)+\"";
    QTest::newRow("stacked star") << R"({"bonsai_recipe":1,"rules":[{"match":"(.**)x"}]})" << "key 'match' \"(.**)x\" repeats the repetition \".**\"";
    QTest::newRow("stacked bounds") << R"({"bonsai_recipe":1,"rules":[{"match":"a+{2}b"}]})" << "repeats the repetition \"a+{\"";
    QTest::newRow("optional star") << R"({"bonsai_recipe":1,"rules":[{"match":"x?*"}]})" << "repeats the repetition \"x?*\"";
    QTest::newRow("deep nesting") << QString(R"({"bonsai_recipe":1,"rules":[{"match":"%1a%2"}]})").arg(QString(17, '('), QString(17, ')')) << "nests groups more than 16 deep";
    QTest::newRow("long pattern") << QString(R"({"bonsai_recipe":1,"rules":[{"match":"%1"}]})").arg(QString(1025, 'a')) << "longer than 1024 characters";
    QTest::newRow("unknown key") << R"({"bonsai_recipe":1,"rules":[{"match":"a","bitz":4}]})" << "rule 1: unknown key 'bitz'";
    QTest::newRow("precision value") << R"({"bonsai_recipe":1,"defaults":{"precision":"int9"}})" << "defaults: key 'precision': unknown value \"int9\"";
    QTest::newRow("precision type") << R"({"bonsai_recipe":1,"defaults":{"precision":8}})" << "key 'precision' must be a string";
    QTest::newRow("granularity") << R"({"bonsai_recipe":1,"defaults":{"granularity":"row"}})" << "key 'granularity': unknown value \"row\"";
    QTest::newRow("group size 0") << R"({"bonsai_recipe":1,"defaults":{"group_size":0}})" << "key 'group_size' must be between";
    QTest::newRow("group size str") << R"({"bonsai_recipe":1,"defaults":{"group_size":"128"}})" << "key 'group_size' must be an integer";
    QTest::newRow("symmetric") << R"({"bonsai_recipe":1,"defaults":{"symmetric":"yes"}})" << "key 'symmetric' must be true or false";
    QTest::newRow("clip") << R"({"bonsai_recipe":1,"defaults":{"clip_search":1}})" << "key 'clip_search' must be true or false";
    QTest::newRow("sparsity 1") << R"({"bonsai_recipe":1,"defaults":{"sparsity":1.0}})" << "key 'sparsity' must be a fraction";
    QTest::newRow("sparsity neg") << R"({"bonsai_recipe":1,"defaults":{"sparsity":-0.1}})" << "key 'sparsity' must be a fraction";
    QTest::newRow("pattern") << R"({"bonsai_recipe":1,"defaults":{"sparsity_pattern":"4:2"}})" << "key 'sparsity_pattern': unknown value \"4:2\"";
    QTest::newRow("scope") << R"({"bonsai_recipe":1,"defaults":{"sparsity_scope":"model"}})" << "key 'sparsity_scope': unknown value";
    QTest::newRow("norm") << R"({"bonsai_recipe":1,"defaults":{"channel_norm":"l3"}})" << "key 'channel_norm': unknown value";
    QTest::newRow("rank neg") << R"({"bonsai_recipe":1,"defaults":{"rank":-3}})" << "key 'rank' must be a non-negative integer";
    QTest::newRow("rank float") << R"({"bonsai_recipe":1,"defaults":{"rank":1.5}})" << "key 'rank' must be an integer";
    QTest::newRow("energy") << R"({"bonsai_recipe":1,"defaults":{"energy":1.5}})" << "key 'energy' must be a fraction in (0, 1]";
    QTest::newRow("both") << R"({"bonsai_recipe":1,"rules":[{"match":"a","rank":4,"energy":0.9}]})" << "alternatives";
    QTest::newRow("rule type") << R"({"bonsai_recipe":1,"rules":[3]})" << "rule 1: must be an object";
    QTest::newRow("method value") << R"({"bonsai_recipe":1,"defaults":{"method":"gptq2"}})" << "defaults: key 'method': unknown value \"gptq2\" (rtn, gptq or awq)";
    QTest::newRow("method type") << R"({"bonsai_recipe":1,"defaults":{"method":1}})" << "key 'method' must be a string";
    QTest::newRow("calib 0") << R"({"bonsai_recipe":1,"defaults":{"calibration_samples":0}})" << "key 'calibration_samples' must be an integer between 1";
    QTest::newRow("calib float") << R"({"bonsai_recipe":1,"defaults":{"calibration_samples":2.5}})" << "key 'calibration_samples' must be an integer";
    QTest::newRow("damping >1") << R"({"bonsai_recipe":1,"rules":[{"match":"a","damping":1.5}]})" << "rule 1: key 'damping' must be a number in [0, 1]";
    QTest::newRow("damping neg") << R"({"bonsai_recipe":1,"defaults":{"damping":-0.01}})" << "key 'damping' must be a number in [0, 1]";
    QTest::newRow("damping str") << R"({"bonsai_recipe":1,"defaults":{"damping":"0.1"}})" << "key 'damping' must be a number";
    QTest::newRow("act order") << R"({"bonsai_recipe":1,"defaults":{"act_order":"yes"}})" << "key 'act_order' must be true or false";
}

void TstRecipe::errors()
{
    QFETCH(QString, json);
    QFETCH(QString, expected);
    try {
        Recipe::parse(json.toStdString(), "my.recipe.json");
        QFAIL("no error");
    } catch (const FileError& e) {
        const QString msg = QString::fromUtf8(e.what());
        QVERIFY2(msg.startsWith(QStringLiteral("my.recipe.json: ")), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
    }
}

// A lazy quantifier ("*?", "+?", "{m,n}?") and a non-capturing group are one repetition each,
// not a repeated repetition.
void TstRecipe::lazyQuantifiersAccepted()
{
    for (const char* re : {"blk\\\\.[0-9]+?\\\\.attn.*?", "fc{1,2}?", "(?:conv|fc)[0-9]*", "a??b", "[*+]+x"}) {
        const std::string text = std::string(R"({"bonsai_recipe":1,"rules":[{"match":")") + re + R"("}]})";
        try {
            const auto r = bonsai::Recipe::parse(text, "r.json");
            QCOMPARE(r.rules.size(), size_t(1));
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QStringLiteral("%1: %2").arg(QString::fromUtf8(re), QString::fromUtf8(e.what()))));
        }
    }
}

void TstRecipe::saveReload()
{
    const Recipe r = Recipe::parse(kExample);
    const std::string path = testutil::tempPath("saved.recipe.json");
    r.save(path);
    const Recipe back = Recipe::load(path);
    for (const char* name : {"conv1", "fc1", "fc2", "x", "conv_fc1"})
        QVERIFY2(back.resolve(name) == r.resolve(name), name);
    QCOMPARE(back.toJson(), r.toJson());
    QVERIFY_THROWS_EXCEPTION(FileError, Recipe::load(testutil::tempPath("missing.json")));
}

void TstRecipe::fromConfigsRoundTrip()
{
    LayerConfig base;
    base.precision = *parsePrecision("int8");
    std::vector<std::string> names = {"a.b", "a+b", "c[0]", "d"};
    std::vector<LayerConfig> cfg(4, base);
    cfg[0].precision = *parsePrecision("nf4");
    cfg[1].pattern = SparsityPattern::NM;
    cfg[1].n = 4;
    cfg[1].m = 8;
    cfg[2].energy = 0.95;
    cfg[3].granularity = Granularity::Group;
    cfg[3].groupSize = 32;
    cfg[3].symmetric = false;
    const Recipe r = Recipe::fromConfigs(names, cfg, base);
    const Recipe back = Recipe::parse(r.toJson());
    for (size_t i = 0; i < names.size(); ++i)
        QVERIFY2(back.resolve(names[i]) == cfg[i], names[i].c_str());
    QVERIFY(back.resolve("aXb") == base); // names are escaped: '.' is literal
}

void TstRecipe::unmatchedRuleWarns()
{
    const auto path = testutil::writeTemp("w.safetensors", testutil::makeSafetensors(
        {{"fc1.weight", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}}));
    auto m = Model::open(path);
    const Recipe r = Recipe::parse(R"({"bonsai_recipe":1,"rules":[{"match":"fc1"},{"match":"conv"}]})");
    const auto w = r.warnings(*m);
    QCOMPARE(w.size(), 1u);
    QVERIFY(w[0].find("rule 2") != std::string::npos);
}

void TstRecipe::calibratedMethods()
{
    const Recipe r = Recipe::parse(R"({ "bonsai_recipe": 1,
      "defaults": { "precision": "int4", "method": "gptq", "calibration_samples": 64 },
      "rules": [ { "match": "fc1", "damping": 0.1, "act_order": true, "granularity": "group", "group_size": 32 },
                 { "match": "fc2", "method": "awq", "precision": "int3" },
                 { "match": "fc3", "method": "rtn" } ] })");
    const LayerConfig a = r.resolve("fc1"), b = r.resolve("fc2"), c = r.resolve("fc3"), d = r.resolve("x");
    QCOMPARE(a.method, QuantMethod::GPTQ);
    QCOMPARE(a.calibSamples, 64);
    QCOMPARE(a.damping, 0.1);
    QVERIFY(a.actOrder);
    QCOMPARE(b.method, QuantMethod::AWQ);
    QCOMPARE(b.damping, 0.01); // the built-in default
    QVERIFY(!b.actOrder);
    QCOMPARE(c.method, QuantMethod::RTN);
    QVERIFY(!c.needsCalibration());
    QVERIFY(d.needsCalibration());
    QCOMPARE(describe(a), std::string("int4 group 32 gptq act-order"));
    QCOMPARE(describe(b), std::string("int3 per channel awq"));
    QCOMPARE(describe(c), std::string("int4 per channel"));
    LayerConfig f = a;
    f.precision = *parsePrecision("fp16"); // the method only matters for integers
    QCOMPARE(describe(f), std::string("fp16"));

    // Round trip through JSON and through fromConfigs.
    const Recipe back = Recipe::parse(r.toJson());
    for (const char* name : {"fc1", "fc2", "fc3", "x"})
        QVERIFY2(back.resolve(name) == r.resolve(name), name);
    QCOMPARE(back.toJson(), r.toJson());
    QVERIFY(r.toJson().find("\"method\": \"gptq\"") != std::string::npos);
    std::vector<std::string> names = {"fc1", "fc2", "fc3"};
    std::vector<LayerConfig> cfg = {a, b, c};
    const Recipe fc = Recipe::fromConfigs(names, cfg, d);
    const Recipe fcBack = Recipe::parse(fc.toJson());
    for (size_t i = 0; i < names.size(); ++i)
        QVERIFY2(fcBack.resolve(names[i]) == cfg[i], names[i].c_str());
    QVERIFY(fcBack.resolve("other") == d);
    const ConfigPatch p = ConfigPatch::diff(LayerConfig{}, LayerConfig{});
    QVERIFY(p.empty());
    ConfigPatch q;
    q.actOrder = false;
    QVERIFY(!q.empty());
}

QTEST_APPLESS_MAIN(TstRecipe)
#include "tst_recipe.moc"
