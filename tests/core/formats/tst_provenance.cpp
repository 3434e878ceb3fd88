// SHA-256 and the provenance of exports:
//  - the digests of FIPS 180-2's example messages (the standard's own values) and, for a
//    file, coreutils' sha256sum; fed in odd pieces the same as at once;
//  - a GGUF export records Bonsai's version and the model's files with size and SHA-256;
//    verify finds them unchanged, names a changed config.json and a missing tokenizer;
//  - calibration data: a file's digest is sha256sum's, a folder's that of the listing
//    sha256sum prints for its files (computed by the shell); an export records it, verify
//    finds it matching, then changed (differs) or gone (missing), or at another path given;
//    a safetensors export's folder keeps the record too;
//  - a recipe keeps its "provenance" object through parse and toJson.
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/model.h"
#include "bonsai/provenance.h"
#include "bonsai/recipe.h"
#include "bonsai/sha256.h"

#include "testutil.h"

#include <QtTest>

#include <filesystem>

using namespace bonsai;
namespace fs = std::filesystem;

class TstProvenance : public QObject {
    Q_OBJECT
private slots:
    // A damaged record is refused naming the source and the field, not in nlohmann's words.
    void recordFaultsNameTheField()
    {
        auto fault = [](const std::string& json) -> std::string {
            try {
                Provenance::fromJson(json, "recipe.json");
            } catch (const FileError& e) {
                return e.what();
            }
            return "accepted";
        };
        const std::string file = R"({"path": "m", "role": "model", "bytes": 1, "sha256": "ab"})";
        const std::string ok = R"({"tool": "t", "created": "c", "files": [)" + file + "]}";
        QCOMPARE(Provenance::fromJson(ok, "recipe.json").files.size(), size_t(1));
        for (const auto& [json, field] : std::vector<std::pair<std::string, std::string>>{
                 {R"({"created": "c", "files": []})", "field 'tool'"},
                 {R"({"tool": 3, "created": "c", "files": []})", "field 'tool'"},
                 {R"({"tool": "t", "created": "c", "files": {}})", "field 'files'"},
                 {R"({"tool": "t", "created": "c", "files": [{"path": "m", "role": "model", "bytes": "1", "sha256": "ab"}]})",
                  "field 'files[0].bytes'"},
                 {R"({"tool": "t", "created": "c", "files": [], "calibration": [{"path": "p"}]})",
                  "field 'calibration[0].use'"},
                 {R"({"tool": "t", "created": "c", "files": [], "options": [1]})", "field 'options'"},
                 // Numbers that are no count: a float beyond int64 (the long fuzz run of
                 // fuzz_provenance found nlohmann converting it, which is undefined), negatives.
                 {R"({"tool": "t", "created": "c", "files": [], "calibration": [{"path": "p", "use": "gptq", "bytes": 1,
                      "sha256": "ab", "samples": 329999999999999999999}]})",
                  "field 'calibration[0].samples'"},
                 {R"({"tool": "t", "created": "c", "files": [], "calibration": [{"path": "p", "use": "gptq", "bytes": 1,
                      "sha256": "ab", "samples": -2}]})",
                  "field 'calibration[0].samples'"},
                 {R"({"tool": "t", "created": "c", "files": [], "calibration": [{"path": "p", "use": "gptq", "bytes": 1,
                      "sha256": "ab", "seed": 1.5}]})",
                  "field 'calibration[0].seed'"},
                 {R"([1, 2])", "not a JSON object"},
                 {R"({"tool": )", "not valid JSON"}}) {
            const std::string what = fault(json);
            QVERIFY2(what.starts_with("recipe.json: bad provenance record: ") && what.find(field) != std::string::npos,
                     (json + " -> " + what).c_str());
            QVERIFY2(what.find("[json.exception") == std::string::npos, what.c_str());
        }
    }

    void sha256Vectors()
    {
        QCOMPARE(sha256Hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(sha256Hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        const std::string million(1000000, 'a');
        QCOMPARE(sha256Hex(million), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
        Sha256 pieces;
        for (size_t off = 0, step = 1; off < million.size(); off += step, step = step * 3 % 1000 + 1)
            pieces.update(million.data() + off, std::min(step, million.size() - off));
        QCOMPARE(pieces.hexDigest(), sha256Hex(million));
    }

    void fileAgainstSha256sum()
    {
        const std::string path = testutil::dataPath("tiny-llama/model.safetensors");
        const auto r = testutil::runProgram(QStringLiteral("sha256sum"), {QString::fromStdString(path)});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(sha256File(path), r.out.left(64).toStdString());
    }

    void exportRecordsAndVerifies()
    {
        const std::string dir = testutil::tempPath("prov-model");
        fs::create_directories(dir);
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
            fs::copy_file(testutil::dataPath(std::string("tiny-llama/") + f), dir + "/" + f,
                          fs::copy_options::overwrite_existing);
        const auto model = Model::open(dir);
        const std::string out = testutil::tempPath("prov.gguf");
        ExportOptions o;
        o.overwrite = true;
        const ExportPlan plan = exportModel(*model, {}, ExportFormat::Gguf, out, o);
        QCOMPARE(uint64_t(fs::file_size(out)), plan.fileBytes); // the planned record had the same length

        const Provenance p = readRecordedProvenance(out);
        QCOMPARE(p.tool, "bonsai " + std::string(bonsaiVersion()));
        QCOMPARE(p.files.size(), size_t(3));
        for (const auto& f : p.files) {
            QCOMPARE(f.role, std::string("model"));
            QCOMPARE(f.bytes, uint64_t(fs::file_size(f.path)));
            const auto r = testutil::runProgram(QStringLiteral("sha256sum"), {QString::fromStdString(f.path)});
            QCOMPARE(f.sha256, r.out.left(64).toStdString());
        }
        QVERIFY(verifyProvenance(p, *Model::open(testutil::dataPath("tiny-llama"))).ok);

        // A changed config.json, then a missing tokenizer: not the recorded model.
        const std::string changed = testutil::tempPath("prov-changed");
        fs::create_directories(changed);
        fs::copy_file(dir + "/model.safetensors", changed + "/model.safetensors", fs::copy_options::overwrite_existing);
        std::string config = testutil::readFile(dir + "/config.json");
        config.replace(config.find("1e-05"), 5, "1e-06");
        testutil::writeTemp("prov-changed/config.json", config);
        VerifyResult r = verifyProvenance(p, *Model::open(changed));
        QVERIFY(!r.ok);
        const std::string all = [&] {
            std::string s;
            for (const auto& l : r.lines)
                s += l + "\n";
            return s;
        }();
        QVERIFY2(all.find("config.json: differs (SHA-256") != std::string::npos, all.c_str());
        QVERIFY2(all.find("tokenizer.model: missing") != std::string::npos, all.c_str());
        QVERIFY2(all.find("model.safetensors: matches") != std::string::npos, all.c_str());

        // A file without a record.
        QVERIFY_THROWS_EXCEPTION(FileError, readRecordedProvenance(testutil::dataPath("tiny-llama/model.safetensors")));
    }

    void calibrationDigests()
    {
        fs::remove_all(testutil::tempPath("calib"));
        fs::create_directories(testutil::tempPath("calib/sub"));
        const std::string text = testutil::writeTemp("calib/a.txt", "The quick brown fox jumps over the lazy dog.\n");
        testutil::writeTemp("calib/sub/b.bin", std::string(100000, '\x07'));
        testutil::writeTemp("calib/B.txt", "upper case sorts first\n");
        const auto one = testutil::runProgram(QStringLiteral("sha256sum"), {QString::fromStdString(text)});
        uint64_t bytes = 0;
        QCOMPARE(calibrationDigest(text, &bytes), one.out.left(64).toStdString());
        QCOMPARE(bytes, uint64_t(45));
        const QString folder = QString::fromStdString(fs::path(text).parent_path().string());
        const auto listing = testutil::runProgram(
            QStringLiteral("bash"),
            {QStringLiteral("-c"), QStringLiteral("cd '%1' && find . -type f -printf '%P\\n' | LC_ALL=C sort | "
                                                  "xargs sha256sum | sha256sum").arg(folder)});
        QCOMPARE(listing.exitCode, 0);
        QCOMPARE(calibrationDigest(folder.toStdString(), &bytes), listing.out.left(64).toStdString());
        QCOMPARE(bytes, uint64_t(45 + 100000 + 23));
        QVERIFY_THROWS_EXCEPTION(FileError, calibrationDigest(testutil::tempPath("calib/none")));
    }

    void exportRecordsCalibration()
    {
        const std::string text = testutil::writeTemp("prov-calib.txt", "Once upon a time there was a small model.\n");
        const auto model = Model::open(testutil::dataPath("tiny-llama"));
        ExportOptions o;
        o.overwrite = true;
        o.calibration.push_back({text, "perplexity", 0, {}, 4, 0});
        const std::string out = testutil::tempPath("prov-calib.gguf");
        const ExportPlan plan = exportModel(*model, {}, ExportFormat::Gguf, out, o);
        QCOMPARE(uint64_t(fs::file_size(out)), plan.fileBytes);
        const Provenance p = readRecordedProvenance(out);
        QCOMPARE(p.calibration.size(), size_t(1));
        const ProvenanceCalibration& c = p.calibration[0];
        QCOMPARE(c.path, fs::absolute(text).string());
        QCOMPARE(c.use, std::string("perplexity"));
        QCOMPARE(c.samples, int64_t(4));
        QCOMPARE(c.bytes, uint64_t(fs::file_size(text)));
        const auto sum = testutil::runProgram(QStringLiteral("sha256sum"), {QString::fromStdString(text)});
        QCOMPARE(c.sha256, sum.out.left(64).toStdString());

        auto joined = [](const VerifyResult& r) {
            std::string s;
            for (const auto& l : r.lines)
                s += l + "\n";
            return s;
        };
        VerifyResult r = verifyProvenance(p, *model);
        QVERIFY2(r.ok, joined(r).c_str());
        QVERIFY2(joined(r).find("prov-calib.txt (perplexity): matches") != std::string::npos, joined(r).c_str());
        fs::create_directories(testutil::tempPath("elsewhere"));
        const std::string copy = testutil::writeTemp("elsewhere/prov-calib.txt", testutil::readFile(text));
        r = verifyProvenance(p, *model, copy);
        QVERIFY2(r.ok && joined(r).find(copy + " (perplexity): matches") != std::string::npos, joined(r).c_str());
        testutil::writeTemp("prov-calib.txt", "Once upon a time there was a large model.\n");
        r = verifyProvenance(p, *model);
        QVERIFY(!r.ok);
        QVERIFY2(joined(r).find("(perplexity): differs (SHA-256") != std::string::npos, joined(r).c_str());
        fs::remove(text);
        r = verifyProvenance(p, *model);
        QVERIFY(!r.ok);
        QVERIFY2(joined(r).find("(perplexity): missing") != std::string::npos, joined(r).c_str());
    }

    void safetensorsExportRecords()
    {
        const std::string text = testutil::writeTemp("prov-st.txt", "a text to predict on\n");
        ExportOptions o;
        o.overwrite = true;
        o.calibration.push_back({text, "perplexity", 0, {}, 0, 0});
        const std::string out = testutil::tempPath("prov-st");
        fs::remove_all(out);
        exportModel(*Model::open(testutil::dataPath("tiny-llama")), {}, ExportFormat::Safetensors, out, o);
        const Provenance p = readRecordedProvenance(out); // the folder's model.safetensors header
        QCOMPARE(p.calibration.size(), size_t(1));
        const auto sum = testutil::runProgram(QStringLiteral("sha256sum"), {QString::fromStdString(text)});
        QCOMPARE(p.calibration[0].sha256, sum.out.left(64).toStdString());
        QVERIFY(verifyProvenance(p, *Model::open(testutil::dataPath("tiny-llama"))).ok);
    }

    void recipeKeepsProvenance()
    {
        Provenance p;
        p.tool = "bonsai test";
        p.created = "2026-12-02T00:00:00Z";
        p.files.push_back({"/data/x.safetensors", "model", 12, std::string(64, 'a')});
        p.calibration.push_back({"/data/calib.txt", "gptq", 40, std::string(64, 'b'), 32, 7});
        const std::string text = R"({"bonsai_recipe":1,"defaults":{"precision":"int8"},"provenance":)" + p.toJson() + "}";
        const Recipe r = Recipe::parse(text, "r.json");
        const Recipe again = Recipe::parse(r.toJson(), "again");
        const Provenance q = Provenance::fromJson(again.provenance, "again");
        QCOMPARE(q.toJson(), p.toJson());
        QCOMPARE(q.calibration.size(), size_t(1));
        QCOMPARE(q.calibration[0].samples, int64_t(32));
        QCOMPARE(q.calibration[0].seed, uint64_t(7));
        QCOMPARE(q.calibration[0].use, std::string("gptq"));
        const std::string path = testutil::writeTemp("with-provenance.json", r.toJson());
        QCOMPARE(readRecordedProvenance(path).files.at(0).sha256, std::string(64, 'a'));
        QVERIFY_THROWS_EXCEPTION(FileError, Recipe::parse(R"({"bonsai_recipe":1,"provenance":3})", "bad"));
    }
};

QTEST_APPLESS_MAIN(TstProvenance)
#include "tst_provenance.moc"
