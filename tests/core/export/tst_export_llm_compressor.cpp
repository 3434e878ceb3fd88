// llm-compressor recipe export of the tiny-llama fixture: the YAML read back by a small
// block-YAML reader written here (and, where python3 with PyYAML is installed, by PyYAML too),
// its modifiers and config groups compared with the recipe's configurations:
//  - int4 groups of 32 asymmetric (round to nearest) and int8 per channel GPTQ (damping, act
//    order) as a QuantizationModifier and a GPTQModifier, each layer in the group of its
//    scheme, lm_head ignored; one scheme: targets ["Linear"];
//  - FP8 E4M3 as a float scheme; clip search (mse observer) and fp16 layers are "changed"; the embedding quantized, AWQ,
//    sparsity, low rank, NF4, two GPTQ dampings are impossible and nothing is written;
//  - the file is the planned size; an existing file is refused without overwrite.
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <sstream>

using namespace bonsai;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json yamlScalar(const std::string& v)
{
    if (v == "true" || v == "false")
        return v == "true";
    if (v == "null" || v == "~")
        return nullptr;
    if (!v.empty() && (v[0] == '[' || v[0] == '{' || v[0] == '"' || v[0] == '-' || std::isdigit(uint8_t(v[0]))))
        try {
            return json::parse(v); // flow lists of quoted strings, numbers, quoted strings
        } catch (const json::exception&) {
        }
    return v; // a plain string
}

// Block mappings nested by indentation, `key: value` or `key:`; comments and blank lines skipped.
json readYaml(const std::string& text)
{
    json root = json::object();
    std::vector<std::pair<size_t, json*>> stack{{0, &root}};
    bool first = true;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const size_t indent = line.find_first_not_of(' ');
        if (indent == std::string::npos || line[indent] == '#')
            continue;
        while (!first && stack.size() > 1 && stack.back().first >= indent)
            stack.pop_back();
        first = false;
        const size_t colon = line.find(':', indent);
        if (colon == std::string::npos)
            throw std::runtime_error("no mapping: " + line);
        const std::string key = line.substr(indent, colon - indent);
        std::string value = colon + 1 < line.size() ? line.substr(colon + 1) : "";
        value.erase(0, value.find_first_not_of(' '));
        json& parent = *stack.back().second;
        if (value.empty()) {
            parent[key] = json::object();
            stack.emplace_back(indent + 1, &parent[key]);
        } else {
            parent[key] = yamlScalar(value);
        }
    }
    return root;
}

std::vector<LayerConfig> configsOf(const Model& m, const std::string& recipe)
{
    return resolveConfigs(m, Recipe::parse(recipe, "test recipe"));
}

} // namespace

class TstExportLlmCompressor : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        hf_ = Model::open(testutil::dataPath("tiny-llama"));
        root_ = testutil::tempPath("llmc-export");
        fs::remove_all(root_);
        fs::create_directories(root_);
    }

    void twoModifiers()
    {
        const auto configs = configsOf(*hf_, R"({"bonsai_recipe":1,
            "defaults":{"precision":"int4","granularity":"group","group_size":32,"symmetric":false},
            "rules":[{"match":"embed_tokens","precision":"fp32"},
                     {"match":"down_proj","precision":"int8","granularity":"channel","symmetric":true,
                      "method":"gptq","damping":0.05,"act_order":true}]})");
        const std::string out = root_ + "/two.yaml";
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::LlmCompressor, out);
        QVERIFY(plan.writable());
        QCOMPARE(uint64_t(fs::file_size(out)), plan.fileBytes);
        const std::string text = testutil::readFile(out);
        const json y = readYaml(text);
        recipes_.push_back(text);
        const json& mods = y["quant_stage"]["quant_modifiers"];
        QCOMPARE(mods.size(), size_t(2));

        const json& rtn = mods["QuantizationModifier"];
        QCOMPARE(rtn["ignore"], json::array({"lm_head"}));
        QCOMPARE(rtn["config_groups"].size(), size_t(1));
        const json& g0 = rtn["config_groups"]["group_0"];
        QCOMPARE(g0["weights"], json({{"num_bits", 4}, {"type", "int"}, {"symmetric", false}, {"strategy", "group"},
                                      {"group_size", 32}, {"dynamic", false}, {"observer", "minmax"}}));
        std::vector<std::string> rtnLayers, gptqLayers;
        for (const Layer& l : hf_->layers)
            if (l.op == "Linear")
                (l.name.find("down_proj") != std::string::npos ? gptqLayers : rtnLayers).push_back(l.name);
        QCOMPARE(g0["targets"].get<std::vector<std::string>>(), rtnLayers);

        const json& gptq = mods["GPTQModifier"];
        QCOMPARE(gptq["dampening_frac"].get<double>(), 0.05);
        QCOMPARE(gptq["actorder"].get<std::string>(), std::string("static"));
        const json& g1 = gptq["config_groups"]["group_1"];
        QCOMPARE(g1["weights"], json({{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", "channel"},
                                      {"dynamic", false}, {"observer", "minmax"}}));
        QCOMPARE(g1["targets"].get<std::vector<std::string>>(), gptqLayers);
        // The channel GPTQ layers' act order is not llm-compressor's (no groups): changed.
        for (const auto& t : plan.tensors)
            QCOMPARE(t.status, t.source.find("down_proj") != std::string::npos ? StoreStatus::Changed
                                                                               : StoreStatus::AsConfigured);
        QVERIFY(!plan.notes.empty());

        QVERIFY_THROWS_EXCEPTION(FileError, exportModel(*hf_, configs, ExportFormat::LlmCompressor, out));
    }

    void oneSchemeTargetsLinear()
    {
        const auto configs = configsOf(*hf_, R"({"bonsai_recipe":1,
            "defaults":{"precision":"int4","granularity":"group","group_size":128,"clip_search":true},
            "rules":[{"match":"embed_tokens","precision":"fp32"},{"match":"layers.3.mlp","precision":"fp16"}]})");
        const std::string out = root_ + "/one.yaml";
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::LlmCompressor, out);
        const std::string text = testutil::readFile(out);
        recipes_.push_back(text);
        const json y = readYaml(text);
        const json& mod = y["quant_stage"]["quant_modifiers"]["QuantizationModifier"];
        QVERIFY(!y["quant_stage"]["quant_modifiers"].contains("GPTQModifier"));
        const json& g0 = mod["config_groups"]["group_0"];
        QCOMPARE(g0["targets"], json::array({"Linear"}));
        QCOMPARE(g0["weights"]["observer"].get<std::string>(), std::string("mse"));
        QCOMPARE(g0["weights"]["group_size"].get<int>(), 128);
        QCOMPARE(g0["weights"]["symmetric"].get<bool>(), true);
        // The fp16 layers stay out (ignored, changed), lm_head too.
        std::vector<std::string> ignored;
        for (const Layer& l : hf_->layers)
            if (l.name.find("layers.3.mlp") != std::string::npos)
                ignored.push_back(l.name);
        ignored.push_back("lm_head");
        QCOMPARE(ignored.size(), size_t(4));
        QCOMPARE(mod["ignore"].get<std::vector<std::string>>(), ignored);
        for (const auto& t : plan.tensors)
            if (t.source.find("proj") != std::string::npos)
                QCOMPARE(t.status, StoreStatus::Changed); // mse observer, or fp16 left as it is
    }

    void fp8IsAFloatScheme()
    {
        const auto configs = configsOf(*hf_, R"({"bonsai_recipe":1,"defaults":{"precision":"fp8_e4m3","granularity":"channel"},
            "rules":[{"match":"embed_tokens","precision":"fp32"}]})");
        const std::string out = root_ + "/fp8.yaml";
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::LlmCompressor, out);
        QVERIFY(plan.writable());
        const json y = readYaml(testutil::readFile(out));
        QCOMPARE(y["quant_stage"]["quant_modifiers"]["QuantizationModifier"]["config_groups"]["group_0"]["weights"],
                 json({{"num_bits", 8}, {"type", "float"}, {"symmetric", true}, {"strategy", "channel"},
                       {"dynamic", false}, {"observer", "minmax"}}));
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<QString>("layer");
        QTest::addColumn<QString>("reason");
        const char* proj = "model.layers.0.self_attn.q_proj.weight";
        QTest::newRow("embedding") << R"({"precision":"int8"})" << "model.embed_tokens.weight" << "Linear layers";
        QTest::newRow("awq") << R"({"precision":"int4","method":"awq"},"rules":[{"match":"embed","precision":"fp32"}])"
                             << proj << "AWQ";
        QTest::newRow("sparsity") << R"({"precision":"int8","sparsity":0.5},"rules":[{"match":"embed","precision":"fp32"}])"
                                  << proj << "sparsity";
        QTest::newRow("rank") << R"({"precision":"fp16","rank":8},"rules":[{"match":"embed","precision":"fp32"}])" << proj
                              << "low rank";
        QTest::newRow("nf4") << R"({"precision":"nf4"},"rules":[{"match":"embed","precision":"fp32"}])" << proj
                             << "no llm-compressor scheme";
        QTest::newRow("two dampings")
            << R"({"precision":"int4","method":"gptq"},"rules":[{"match":"embed","precision":"fp32"},
                  {"match":"layers.1.","damping":0.1}])"
            << "model.layers.1.self_attn.q_proj.weight" << "one GPTQModifier";
    }

    void refusals()
    {
        QFETCH(QString, recipe);
        QFETCH(QString, layer);
        QFETCH(QString, reason);
        const auto configs = configsOf(*hf_, R"({"bonsai_recipe":1,"defaults":)" + recipe.toStdString() + "}");
        const ExportPlan plan = planExport(*hf_, configs, ExportFormat::LlmCompressor);
        QVERIFY(!plan.writable());
        bool found = false;
        for (const auto& p : plan.problems())
            found |= QString::fromStdString(p).contains(QLatin1Char('\'') + layer + QLatin1Char('\'')) &&
                     QString::fromStdString(p).contains(reason);
        QVERIFY2(found, plan.problems().front().c_str());
        const std::string out = root_ + "/refused.yaml";
        QVERIFY_THROWS_EXCEPTION(Error, exportModel(*hf_, configs, ExportFormat::LlmCompressor, out));
        QVERIFY(!fs::exists(out));
    }

    // The same structure through PyYAML, where it is installed.
    void pyYamlAgrees()
    {
        QProcess py;
        py.start(QStringLiteral("python3"), {QStringLiteral("-c"), QStringLiteral("import yaml")});
        if (!py.waitForFinished(20000) || py.exitStatus() != QProcess::NormalExit || py.exitCode() != 0)
            QSKIP("python3 with PyYAML is not installed");
        QCOMPARE(recipes_.size(), size_t(2));
        for (const std::string& text : recipes_) {
            QProcess p;
            p.start(QStringLiteral("python3"),
                    {QStringLiteral("-c"), QStringLiteral("import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))")});
            p.write(text.data(), qint64(text.size()));
            p.closeWriteChannel();
            QVERIFY(p.waitForFinished(20000));
            QCOMPARE(p.exitCode(), 0);
            QCOMPARE(json::parse(p.readAllStandardOutput().toStdString()), readYaml(text));
        }
    }

private:
    std::unique_ptr<Model> hf_;
    std::string root_;
    std::vector<std::string> recipes_;
};

QTEST_APPLESS_MAIN(TstExportLlmCompressor)
#include "tst_export_llm_compressor.moc"
