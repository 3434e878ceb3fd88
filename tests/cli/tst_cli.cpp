// bonsai-cli: info --json, tensor --npy, stats, export's check, formats and predicted accuracy,
// verify of the calibration data, a full disk, and errors, run as a separate process.
#include "testutil.h"

#include "bonsai/half.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using testutil::runCli;

class TstCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void infoJson();
    void tensorNpy();
    void statsJson();
    void errors();
    void presets();
    void exportCheck();
    void exportPackedAndRecipe();
    void exportToFullDisk();
    void exportPredictsAccuracy();
    void verifyCalibration();

private:
    std::string model_;
};

void TstCli::initTestCase()
{
    std::string h;
    for (float x : {1.0f, -0.5f, 2.0f, 0.25f, 3.0f, -1.0f})
        testutil::put(h, bonsai::floatToFp16(x));
    model_ = testutil::writeTemp("cli.safetensors", testutil::makeSafetensors(
        {{"fc1.weight", "F16", {2, 3}, h},
         {"fc1.bias", "F32", {2}, testutil::floatBytes({0.5f, -0.5f})},
         {"scale", "F32", {}, testutil::floatBytes({7.0f})}},
        R"({"format":"pt"})"));
}

void TstCli::infoJson()
{
    auto r = runCli({QStringLiteral("info"), QString::fromStdString(model_), QStringLiteral("--json")});
    QCOMPARE(r.exitCode, 0);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["format"].get<std::string>(), std::string("safetensors"));
    QCOMPARE(j["tensors"].size(), 3u);
    const auto& t = j["tensors"][0];
    QCOMPARE(t["name"].get<std::string>(), std::string("fc1.weight"));
    QCOMPARE(t["shape"].get<std::vector<int64_t>>(), (std::vector<int64_t>{2, 3}));
    QCOMPARE(t["dtype"].get<std::string>(), std::string("F16"));
    QCOMPARE(t["params"].get<uint64_t>(), 6u);
    QCOMPARE(t["bytes"].get<uint64_t>(), 12u);
    QCOMPARE(t["op"].get<std::string>(), std::string("Linear"));
    QCOMPARE(j["tensors"][2]["shape"].size(), 0u); // a scalar
    QCOMPARE(j["total_params"].get<uint64_t>(), 6u + 2u + 1u);
    QCOMPARE(j["total_bytes"].get<uint64_t>(), 12u + 8u + 4u);
    // The text form lists every tensor and the totals.
    auto text = runCli({QStringLiteral("info"), QString::fromStdString(model_)});
    QCOMPARE(text.exitCode, 0);
    QVERIFY(text.out.contains("fc1.bias"));
    QVERIFY(text.out.contains("3 tensors, 1 layers, 9 parameters"));
}

void TstCli::tensorNpy()
{
    const std::string out = testutil::tempPath("fc1.npy");
    auto r = runCli({QStringLiteral("tensor"), QString::fromStdString(model_), QStringLiteral("fc1.weight"),
                     QStringLiteral("--npy"), QString::fromStdString(out)});
    QCOMPARE(r.exitCode, 0);
    std::ifstream f(out, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    QVERIFY(bytes.size() > 10);
    QCOMPARE(bytes.substr(0, 6), std::string("\x93NUMPY"));
    const size_t hlen = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    const std::string header = bytes.substr(10, hlen);
    QCOMPARE((10 + hlen) % 64, 0u);
    QVERIFY2(header.find("'descr': '<f4'") != std::string::npos, header.c_str());
    QVERIFY2(header.find("'fortran_order': False") != std::string::npos, header.c_str());
    QVERIFY2(header.find("'shape': (2, 3)") != std::string::npos, header.c_str());
    QCOMPARE(bytes.size(), 10 + hlen + 6 * sizeof(float));
    std::vector<float> v(6);
    std::memcpy(v.data(), bytes.data() + 10 + hlen, 24);
    QCOMPARE(v, (std::vector<float>{1.0f, -0.5f, 2.0f, 0.25f, 3.0f, -1.0f}));

    const std::string bias = testutil::tempPath("bias.npy");
    QCOMPARE(runCli({QStringLiteral("tensor"), QString::fromStdString(model_), QStringLiteral("fc1.bias"),
                     QStringLiteral("--npy"), QString::fromStdString(bias)}).exitCode, 0);
    std::ifstream fb(bias, std::ios::binary);
    std::string bb((std::istreambuf_iterator<char>(fb)), {});
    QVERIFY(bb.find("'shape': (2,)") != std::string::npos);
}

void TstCli::statsJson()
{
    auto r = runCli({QStringLiteral("stats"), QString::fromStdString(model_), QStringLiteral("fc1.weight"),
                     QStringLiteral("--bins"), QStringLiteral("4"), QStringLiteral("--json")});
    QCOMPARE(r.exitCode, 0);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["min"].get<double>(), -1.0);
    QCOMPARE(j["max"].get<double>(), 3.0);
    QCOMPARE(j["mean"].get<double>(), 4.75 / 6.0);
    // bins of width 1 over [-1, 3]: {-1,-0.5}, {0.25}, {1}, {2,3}
    QCOMPARE(j["histogram"].get<std::vector<uint64_t>>(), (std::vector<uint64_t>{2, 1, 1, 2}));
    QCOMPARE(j["channel_max"].get<std::vector<float>>(), (std::vector<float>{2.0f, 3.0f}));
}

void TstCli::errors()
{
    const QString missing = QString::fromStdString(testutil::tempPath("nope.safetensors"));
    auto r = runCli({QStringLiteral("info"), missing});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains(missing.toUtf8()) && r.err.contains("no such file"), r.err.constData());

    const std::string corrupt = testutil::writeTemp("corrupt.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
    r = runCli({QStringLiteral("info"), QString::fromStdString(corrupt), QStringLiteral("--json")});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains("corrupt.safetensors") && r.err.contains("truncated"), r.err.constData());
    QVERIFY(r.out.isEmpty());

    const std::string out = testutil::tempPath("never.npy");
    r = runCli({QStringLiteral("tensor"), QString::fromStdString(model_), QStringLiteral("no.such"),
                QStringLiteral("--npy"), QString::fromStdString(out)});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains("no tensor named 'no.such'"), r.err.constData());
    QVERIFY(!std::filesystem::exists(out));

    r = runCli({QStringLiteral("tensor"), QString::fromStdString(model_), QStringLiteral("fc1.weight")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains("--npy"));
    r = runCli({QStringLiteral("frobnicate")});
    QCOMPARE(r.exitCode, 2);
    r = runCli({QStringLiteral("info"), QString::fromStdString(model_), QStringLiteral("--jsn")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.contains("unknown option --jsn"));
}

// --preset KEY gives what the equivalent recipe gives (the recipe format is documented in
// docs/compression.md), for compress on the demo CNN; --preset help lists every key.
void TstCli::presets()
{
    const QString demo = QStringLiteral(BONSAI_DEMO_MODEL);
    auto list = runCli({QStringLiteral("compress"), QStringLiteral("--preset"), QStringLiteral("help")});
    QCOMPARE(list.exitCode, 0);
    for (const char* key : {"int8", "int4-g128", "int4-g128-gptq", "sparse24-int8", "fp16", "reset"})
        QVERIFY2(list.out.contains(QByteArray("  ") + key + ' '), key);

    // INT4 group-128 keeps the classifier's output layer (the last Gemm, fc2) in FP16.
    const std::string recipe = testutil::writeTemp("int4.json", R"({"bonsai_recipe": 1,
        "defaults": {"precision": "int4", "granularity": "group", "group_size": 128},
        "rules": [{"match": "^fc2$", "precision": "fp16"}]})");
    auto byPreset = runCli({QStringLiteral("compress"), demo, QStringLiteral("--preset"), QStringLiteral("int4-g128"),
                            QStringLiteral("--json")});
    auto byRecipe = runCli({QStringLiteral("compress"), demo, QStringLiteral("--recipe"), QString::fromStdString(recipe),
                            QStringLiteral("--json")});
    QCOMPARE(byPreset.exitCode, 0);
    QCOMPARE(byRecipe.exitCode, 0);
    auto a = nlohmann::json::parse(byPreset.out.toStdString());
    auto b = nlohmann::json::parse(byRecipe.out.toStdString());
    QCOMPARE(a["layers"].size(), size_t(4));
    QCOMPARE(a["layers"], b["layers"]);
    QCOMPARE(a["layers"][3]["config"].get<std::string>(), std::string("fp16"));

    auto bad = runCli({QStringLiteral("compress"), demo, QStringLiteral("--preset"), QStringLiteral("int5")});
    QCOMPARE(bad.exitCode, 2);
    QVERIFY(bad.err.contains("unknown preset 'int5'"));
    QVERIFY(bad.err.contains("int4-g128"));
    bad = runCli({QStringLiteral("eval"), demo, QStringLiteral("--preset"), QStringLiteral("int8"), QStringLiteral("--recipe"),
                  QString::fromStdString(recipe)});
    QCOMPARE(bad.exitCode, 2);
    QVERIFY(bad.err.contains("exclude each other"));
}

// export --check: INT8 has no GGUF type (29 layers refused, exit 1, no file); with
// --accept-mapping every layer is Q8_0 and the predicted size is that of the file written;
// an existing output is kept without --force.
void TstCli::exportCheck()
{
    const QString llama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
    const QStringList base{QStringLiteral("export"), llama, QStringLiteral("--preset"), QStringLiteral("int8"),
                           QStringLiteral("--format"), QStringLiteral("gguf"), QStringLiteral("--json")};
    auto refused = runCli(base + QStringList{QStringLiteral("--check")});
    QCOMPARE(refused.exitCode, 1);
    auto j = nlohmann::json::parse(refused.out.toStdString());
    QCOMPARE(j["writable"].get<bool>(), false);
    QCOMPARE(j["problems"].size(), size_t(29));
    QVERIFY(refused.err.contains("model.layers.0.self_attn.q_proj.weight"));
    QVERIFY(refused.err.contains("--accept-mapping"));

    const std::string out = testutil::tempPath("cli-export.gguf");
    auto written = runCli(base + QStringList{QStringLiteral("--accept-mapping"), QStringLiteral("--out"),
                                             QString::fromStdString(out)});
    QCOMPARE(written.exitCode, 0);
    j = nlohmann::json::parse(written.out.toStdString());
    QCOMPARE(j["written"].get<bool>(), true);
    QCOMPARE(uint64_t(std::filesystem::file_size(out)), j["file_bytes"].get<uint64_t>());
    for (const auto& t : j["tensors"])
        if (t["source"].get<std::string>().find("proj") != std::string::npos)
            QCOMPARE(t["stored"].get<std::string>(), std::string("Q8_0"));

    auto again = runCli(base + QStringList{QStringLiteral("--accept-mapping"), QStringLiteral("--out"),
                                           QString::fromStdString(out)});
    QCOMPARE(again.exitCode, 1);
    QVERIFY(again.err.contains("exists already"));
    QVERIFY(again.err.contains(QByteArray::fromStdString(out)));
}

// The compressed-tensors folder and the llm-compressor recipe through the command line.
void TstCli::exportPackedAndRecipe()
{
    const QString llama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
    const std::string folder = testutil::tempPath("cli-packed");
    auto packed = runCli({QStringLiteral("export"), llama, QStringLiteral("--preset"), QStringLiteral("int8"),
                          QStringLiteral("--format"), QStringLiteral("safetensors-packed"), QStringLiteral("--out"),
                          QString::fromStdString(folder), QStringLiteral("--json")});
    QCOMPARE(packed.exitCode, 0);
    auto j = nlohmann::json::parse(packed.out.toStdString());
    QCOMPARE(j["written"].get<bool>(), true);
    QCOMPARE(uint64_t(std::filesystem::file_size(folder + "/model.safetensors")), j["file_bytes"].get<uint64_t>());
    for (const auto& t : j["tensors"])
        if (t["source"].get<std::string>().find("proj") != std::string::npos)
            QCOMPARE(t["stored"].get<std::string>(), std::string("int8 packed, per channel"));
    const auto config = nlohmann::json::parse(testutil::readFile(folder + "/config.json"));
    QCOMPARE(config["quantization_config"]["format"].get<std::string>(), std::string("pack-quantized"));

    // The recipe cannot quantize the embedding: refused, naming it, without GGUF's hint.
    auto recipe = runCli({QStringLiteral("export"), llama, QStringLiteral("--preset"), QStringLiteral("int8"),
                          QStringLiteral("--format"), QStringLiteral("llm-compressor"), QStringLiteral("--check"),
                          QStringLiteral("--json")});
    QCOMPARE(recipe.exitCode, 1);
    QVERIFY(recipe.err.contains("model.embed_tokens.weight"));
    QVERIFY(!recipe.err.contains("--accept-mapping"));
    QCOMPARE(nlohmann::json::parse(recipe.out.toStdString())["problems"].size(), size_t(1));
}

// export --check --dataset on the demo CNN: every layer stored as configured (INT4 groups,
// INT8 channels), so the predicted accuracy is what `eval` gives for the recipe, and the
// uncompressed one what `eval` gives without one (another command, another process).
void TstCli::exportPredictsAccuracy()
{
    const QString demo = QStringLiteral(BONSAI_DEMO_MODEL);
    const QString data = QStringLiteral("/usr/share/datasets/fashion-mnist");
    if (!QFileInfo::exists(data))
        QSKIP("the Fashion-MNIST test set is not installed");
    const QString recipe = QString::fromStdString(testutil::writeTemp("predict.json", R"({"bonsai_recipe": 1,
        "defaults": {"precision": "int4", "granularity": "group", "group_size": 32},
        "rules": [{"match": "^(layer1\\.conv|fc2)$", "precision": "int8", "granularity": "channel"}]})"));
    const QStringList limit{QStringLiteral("--dataset"), data, QStringLiteral("--limit"), QStringLiteral("1000"),
                            QStringLiteral("--json")};
    auto check = runCli(QStringList{QStringLiteral("export"), demo, QStringLiteral("--recipe"), recipe,
                                    QStringLiteral("--format"), QStringLiteral("onnx"), QStringLiteral("--check")} +
                        limit);
    QVERIFY2(check.exitCode == 0, check.err.constData());
    const auto j = nlohmann::json::parse(check.out.toStdString());
    QCOMPARE(j["tensors"].size(), size_t(4));
    for (const auto& t : j["tensors"])
        QCOMPARE(t["status"].get<std::string>(), std::string("as configured"));
    const auto& p = j["predicted"];
    QCOMPARE(p["metric"].get<std::string>(), std::string("accuracy"));
    QCOMPARE(p["samples"].get<int64_t>(), int64_t(1000));

    auto eval = runCli(QStringList{QStringLiteral("eval"), demo, QStringLiteral("--recipe"), recipe} + limit);
    auto plain = runCli(QStringList{QStringLiteral("eval"), demo} + limit);
    QCOMPARE(eval.exitCode, 0);
    QCOMPARE(plain.exitCode, 0);
    const double compressed = nlohmann::json::parse(eval.out.toStdString())["accuracy"].get<double>();
    const double uncompressed = nlohmann::json::parse(plain.out.toStdString())["accuracy"].get<double>();
    QCOMPARE(p["value"].get<double>(), compressed);
    QCOMPARE(p["uncompressed"].get<double>(), uncompressed);
    QVERIFY(compressed != uncompressed); // the recipe changes the model measurably

    // The text names both, as eval prints them (two decimals).
    auto text = runCli({QStringLiteral("export"), demo, QStringLiteral("--recipe"), recipe, QStringLiteral("--format"),
                        QStringLiteral("onnx"), QStringLiteral("--check"), QStringLiteral("--dataset"), data,
                        QStringLiteral("--limit"), QStringLiteral("1000")});
    const QByteArray line = QStringLiteral("predicted accuracy: %1% (uncompressed %2%) on 1000 samples")
                                .arg(100 * compressed, 0, 'f', 2)
                                .arg(100 * uncompressed, 0, 'f', 2)
                                .toUtf8();
    QVERIFY2(text.out.contains(line), text.out.constData());

    // Without --dataset: eval's default data set (the same folder here).
    auto byDefault = runCli({QStringLiteral("export"), demo, QStringLiteral("--recipe"), recipe, QStringLiteral("--format"),
                             QStringLiteral("onnx"), QStringLiteral("--check"), QStringLiteral("--limit"),
                             QStringLiteral("1000")});
    QVERIFY2(byDefault.out.contains(line), byDefault.out.constData());

    auto refused = runCli({QStringLiteral("export"), QStringLiteral(BONSAI_TEST_DATA "/tiny-llama"),
                           QStringLiteral("--format"), QStringLiteral("gguf"), QStringLiteral("--check"),
                           QStringLiteral("--dataset"), data});
    QCOMPARE(refused.exitCode, 2);
    QVERIFY(refused.err.contains("--text"));
}

// An export predicted on a text records it (path, SHA-256); verify finds it matching, then
// differing once the text changed, and matching a copy of the original given by --calibration.
void TstCli::verifyCalibration()
{
    const QString llama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
    const std::string original = "the cat sat on the mat and the dog sat on the log\n";
    const QString text = QString::fromStdString(testutil::writeTemp("verify-text.txt", original));
    const QString out = QString::fromStdString(testutil::tempPath("verify.gguf"));
    auto exported = runCli({QStringLiteral("export"), llama, QStringLiteral("--format"), QStringLiteral("gguf"),
                            QStringLiteral("--out"), out, QStringLiteral("--force"), QStringLiteral("--text"), text,
                            QStringLiteral("--ctx"), QStringLiteral("8")});
    QVERIFY2(exported.exitCode == 0, exported.err.constData());
    QVERIFY(exported.out.contains("predicted perplexity"));

    auto same = runCli({QStringLiteral("verify"), out, llama});
    QVERIFY2(same.exitCode == 0, same.out.constData());
    QVERIFY2(same.out.contains("verify-text.txt (perplexity): matches"), same.out.constData());

    testutil::writeTemp("verify-text.txt", "the cat sat on the mat and the dog sat on the fog\n");
    auto changed = runCli({QStringLiteral("verify"), out, llama, QStringLiteral("--json")});
    QCOMPARE(changed.exitCode, 1);
    const auto j = nlohmann::json::parse(changed.out.toStdString());
    QCOMPARE(j["ok"].get<bool>(), false);
    QString lines;
    for (const auto& l : j["lines"])
        lines += QString::fromStdString(l.get<std::string>()) + QLatin1Char('\n');
    QVERIFY2(lines.contains(QStringLiteral("verify-text.txt (perplexity): differs (SHA-256")), qPrintable(lines));
    QVERIFY2(lines.contains(QStringLiteral("model.safetensors: matches")), qPrintable(lines));

    std::filesystem::create_directories(testutil::tempPath("verify-copy"));
    const QString copy = QString::fromStdString(testutil::writeTemp("verify-copy/verify-text.txt", original));
    auto given = runCli({QStringLiteral("verify"), out, llama, QStringLiteral("--calibration"), copy});
    QVERIFY2(given.exitCode == 0, given.out.constData());
    QVERIFY2(given.out.contains(copy.toUtf8() + " (perplexity): matches"), given.out.constData());
}

// A disk that fills up during the export (a file size limit, with SIGXFSZ ignored so that
// write() fails as on a full disk): a message naming the file, exit 1, nothing left behind,
// for every format (one file, or a checkpoint folder).
void TstCli::exportToFullDisk()
{
    const QString llama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
    const QString cnn = QStringLiteral(BONSAI_DEMO_MODEL);
    struct Case {
        QString model, format, out;
    };
    const std::string dir = testutil::tempPath("full-disk");
    std::filesystem::create_directories(dir);
    const QString d = QString::fromStdString(dir);
    for (const Case& c : {Case{cnn, "onnx", d + "/out.onnx"}, Case{llama, "gguf", d + "/out.gguf"},
                          Case{llama, "safetensors", d + "/out-st"}, Case{llama, "safetensors-packed", d + "/out-packed"}}) {
        // 64 blocks of 512 bytes: 32 KiB, far less than each export.
        const auto r = testutil::runProgram(
            QStringLiteral("sh"),
            {QStringLiteral("-c"), QStringLiteral("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\""),
             QStringLiteral(BONSAI_CLI_PATH), QStringLiteral("export"), c.model, QStringLiteral("--preset"),
             QStringLiteral("int8"), QStringLiteral("--format"), c.format, QStringLiteral("--accept-mapping"),
             QStringLiteral("--out"), c.out});
        QVERIFY2(r.exitCode == 1, qPrintable(c.format + ": exit " + QString::number(r.exitCode) + " " + r.err));
        QVERIFY2(r.err.contains(c.out.toUtf8()) && r.err.contains("File too large"), r.err.constData());
        QVERIFY2(std::filesystem::is_empty(dir), qPrintable(c.format + QStringLiteral(": something was left in the folder")));
    }
}

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
