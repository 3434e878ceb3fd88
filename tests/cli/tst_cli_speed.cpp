// bonsai-cli speed: a language model's report (tiny-llama, FP32 and with a Q8_0 preset-free
// recipe) and an ONNX classifier's (the demo CNN) carry every field, positive and consistent;
// bad arguments are refused in words. No timing is asserted beyond being positive.
#include "testutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using testutil::runCli;

class TstCliSpeed : public QObject {
    Q_OBJECT

private slots:
    void languageModel_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<QString>("weights");
        QTest::newRow("fp32") << QString() << "F32: 29 layers";
        QTest::newRow("q8_0") << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})" << "Q8_0: 29 layers";
        QTest::newRow("int4 g32") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32}})"
                                  << "INT4: 29 layers";
    }

    void languageModel()
    {
        QFETCH(QString, recipe);
        QFETCH(QString, weights);
        QStringList args{"speed", QString::fromStdString(testutil::dataPath("tiny-llama")), "--prompt", "16",
                         "--tokens", "4", "--repeats", "2", "--batch", "2", "--json"};
        if (!recipe.isEmpty())
            args << "--recipe" << QString::fromStdString(testutil::writeTemp("speed-recipe.json", recipe.toStdString()));
        const auto r = runCli(args);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["kind"].toString(), QString("language model"));
        QCOMPARE(j["weights"].toString(), weights);
        QCOMPARE(j["batch"].toInt(), 2);
        for (const char* k : {"prefill_tokens_per_second", "decode_tokens_per_second", "throughput", "weight_bytes",
                              "kv_cache_bytes", "peak_rss_bytes"})
            QVERIFY2(j[k].toDouble() > 0, k);
        QCOMPARE(j["throughput"].toDouble(), 2 * j["decode_tokens_per_second"].toDouble());
        // This measure takes well under half a second: too short to tell the other processes' load.
        QCOMPARE(j["other_cpu_share"].toDouble(0), -1.0);
        const QJsonObject parts = j["decode_token_ms_per_part"].toObject();
        for (const char* k : {"attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up", "mlp.down", "head",
                              "attention", "other"}) {
            const QJsonObject s = parts[k].toObject();
            QVERIFY2(s["min"].toDouble() <= s["median"].toDouble() && s["median"].toDouble() <= s["max"].toDouble(), k);
        }
    }

    void onnxClassifier()
    {
        const auto r = runCli({"speed", QString::fromStdString(testutil::dataPath("../../resources/demo/fashion_cnn.onnx")),
                               "--batch", "4", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["kind"].toString(), QString("onnx"));
        QVERIFY(j["throughput"].toDouble() > 0);
        QVERIFY(j["latency_ms"].toObject()["median"].toDouble() > 0);
        QVERIFY(!j["nodes"].toArray().isEmpty());
        QVERIFY(!j.contains("int8_layers")); // only with --deploy
    }

    void onnxDeploy()
    {
        // --deploy with the int8 preset: the demo CNN's 4 layers run from their INT8 codes.
        const auto r = runCli({"speed", QString::fromStdString(testutil::dataPath("../../resources/demo/fashion_cnn.onnx")),
                               "--preset", "int8", "--deploy", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["int8_layers"].toArray().size(), 4);
        const auto text = runCli({"speed", QString::fromStdString(testutil::dataPath("../../resources/demo/fashion_cnn.onnx")),
                                  "--preset", "int8", "--deploy"});
        QVERIFY2(text.out.contains("deploy: 4 layers in INT8"), text.out.constData());
    }

    void refusals()
    {
        const auto r = runCli({"speed", QString::fromStdString(testutil::dataPath("tiny-llama")), "--batch", "0"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--batch"), r.err.constData());
        const auto m = runCli({"speed"});
        QCOMPARE(m.exitCode, 2);
    }
};

QTEST_APPLESS_MAIN(TstCliSpeed)
#include "tst_cli_speed.moc"
