// Evaluation against a reference framework: a Fashion-MNIST MLP trained and exported to ONNX
// by PyTorch (tests/data/reference/make_reference.py, run by hand), with PyTorch's own
// results in torch_mlp.json. Bonsai must reproduce them on the 10,000 test images:
//  - uncompressed: the same top-1 count (accuracy within half an image), and the logits of the first
//    16 images within 1e-4 relative: |bonsai - torch| <= 1e-4 * max(|torch|, 1), i.e.
//    relative for logits of magnitude >= 1 and 1e-4 absolute for smaller ones (near zero a
//    pure relative bound would only measure FP32 summation-order noise);
//  - weight-only INT8 symmetric per output channel, and INT4 symmetric in groups of 32, on
//    every layer: the same top-1 count as PyTorch with the same quantization (FP16 scales,
//    round half to even, biases unchanged). INT8 changes PyTorch's accuracy by one image in
//    10,000, so any looser bound would not see it.
#include "testutil.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "bonsai/recipe.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

using namespace bonsai;

namespace {

// Half an image of the 10,000: the counts must be equal (measured: equal in all three cases).
constexpr double kAccuracyTolerance = 0.5 / 10000;
constexpr double kQuantizedTolerance = kAccuracyTolerance;
constexpr double kLogitRelTolerance = 1e-4;
constexpr int kLogitImages = 16, kClasses = 10;

} // namespace

class TstOnnxReference : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void layersAreOutputChannelRows();
    void uncompressedAccuracy();
    void logitsOfFirstImages();
    void int8PerChannelAccuracy();
    void int4Group32Accuracy();

private:
    double quantizedAccuracy(const std::string& recipeJson);

    nlohmann::json ref_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Dataset> data_;
};

void TstOnnxReference::initTestCase()
{
    if (!std::filesystem::exists(defaultDatasetDir()))
        QSKIP("the Fashion-MNIST data set (dataset-fashion-mnist) is not installed");
    std::ifstream in(testutil::dataPath("reference/torch_mlp.json"));
    QVERIFY(in.good());
    ref_ = nlohmann::json::parse(in);
    model_ = Model::open(testutil::dataPath("reference/torch_mlp.onnx"));
    data_ = openDataset(defaultDatasetPath());
    QCOMPARE(data_->size(), int64_t(10000));
    qInfo("reference: PyTorch %s, seed %d", ref_.at("torch_version").get<std::string>().c_str(),
          ref_.at("seed").get<int>());
}

// PyTorch quantizes the rows of each Linear weight [out, in]; Bonsai quantizes along the
// layer's output-channel axis. The exported layers must therefore have their output channels
// (128, then 10) on outAxis: Gemm with transB=1 (axis 0) or MatMul [in, out] (axis 1).
void TstOnnxReference::layersAreOutputChannelRows()
{
    QCOMPARE(model_->layers.size(), size_t(2));
    const int64_t outs[2] = {128, kClasses};
    for (size_t k = 0; k < 2; ++k) {
        const Layer& l = model_->layers[k];
        const auto& shape = model_->tensors[static_cast<size_t>(l.weight)].shape;
        QCOMPARE(shape.size(), size_t(2));
        QCOMPARE(shape[static_cast<size_t>(l.outAxis)], outs[k]);
        uint64_t rows = 0, cols = 0;
        layerMatrix(*model_, l, rows, cols);
        QCOMPARE(rows, static_cast<uint64_t>(outs[k]));
        qInfo("layer %s: %s, weight [%lld, %lld], outAxis %d", l.name.c_str(), l.op.c_str(),
              static_cast<long long>(shape[0]), static_cast<long long>(shape[1]), l.outAxis);
    }
}

void TstOnnxReference::uncompressedAccuracy()
{
    Evaluator ev(*model_, *data_, {});
    const EvalResult r = ev.evaluate(std::vector<LayerConfig>(model_->layers.size()));
    QCOMPARE(r.samples, int64_t(10000));
    const double torchAcc = ref_.at("accuracy").get<double>();
    qInfo("uncompressed top-1: bonsai %.4f, torch %.4f, difference %.2f points", r.metrics.top1,
          torchAcc, 100.0 * std::abs(r.metrics.top1 - torchAcc));
    QVERIFY(std::abs(r.metrics.top1 - torchAcc) <= kAccuracyTolerance);
    QCOMPARE(ev.reference().metrics.top1Correct, r.metrics.top1Correct);
}

void TstOnnxReference::logitsOfFirstImages()
{
    OnnxExecutor exec(*model_);
    QCOMPARE(exec.inputNames().size(), size_t(1));
    const std::vector<int64_t> shape{kLogitImages, 1, 28, 28};
    std::vector<float> batch(static_cast<size_t>(kLogitImages * 28 * 28));
    data_->fillBatch(0, kLogitImages, shape, batch.data(), nullptr);
    const std::vector<Value> out = exec.run({Value::floats(shape, std::move(batch))});
    QCOMPARE(out.size(), size_t(1));
    QCOMPARE(out[0].shape, (std::vector<int64_t>{kLogitImages, kClasses}));
    const auto& logits = ref_.at("logits");
    QCOMPARE(logits.size(), size_t(kLogitImages));
    double worstBound = 0, worstRel = 0, worstAbs = 0;
    for (int i = 0; i < kLogitImages; ++i) {
        QCOMPARE(logits[static_cast<size_t>(i)].size(), size_t(kClasses));
        for (int c = 0; c < kClasses; ++c) {
            const double b = logits[static_cast<size_t>(i)][static_cast<size_t>(c)].get<double>();
            const double a = out[0].f[static_cast<size_t>(i * kClasses + c)];
            const double diff = std::abs(a - b);
            worstBound = std::max(worstBound, diff / std::max(std::abs(b), 1.0));
            worstRel = std::max(worstRel, diff / std::max(std::abs(b), 1e-30));
            worstAbs = std::max(worstAbs, diff);
            if (diff > kLogitRelTolerance * std::max(std::abs(b), 1.0))
                QFAIL(qPrintable(QString("image %1 class %2: bonsai %3, torch %4")
                                     .arg(i).arg(c).arg(a, 0, 'g', 9).arg(b, 0, 'g', 9)));
        }
    }
    qInfo("logits of %d images: max |diff|/max(|torch|,1) %.3g, max pure relative %.3g, "
          "max absolute %.3g",
          kLogitImages, worstBound, worstRel, worstAbs);
}

double TstOnnxReference::quantizedAccuracy(const std::string& recipeJson)
{
    const Recipe recipe = Recipe::parse(recipeJson);
    const std::vector<LayerConfig> configs = resolveConfigs(*model_, recipe);
    Evaluator ev(*model_, *data_, {});
    const EvalResult r = ev.evaluate(configs);
    return r.metrics.top1;
}

void TstOnnxReference::int8PerChannelAccuracy()
{
    const double acc = quantizedAccuracy(
        R"({"bonsai_recipe":1,"defaults":{"precision":"int8","granularity":"channel","symmetric":true}})");
    const double torchAcc = ref_.at("accuracy_int8_channel").get<double>();
    qInfo("int8 per channel top-1: bonsai %.4f, torch %.4f, difference %.2f points", acc, torchAcc,
          100.0 * std::abs(acc - torchAcc));
    QVERIFY(std::abs(acc - torchAcc) <= kQuantizedTolerance);
}

void TstOnnxReference::int4Group32Accuracy()
{
    const double acc = quantizedAccuracy(
        R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32,"symmetric":true}})");
    const double torchAcc = ref_.at("accuracy_int4_g32").get<double>();
    qInfo("int4 group 32 top-1: bonsai %.4f, torch %.4f, difference %.2f points", acc, torchAcc,
          100.0 * std::abs(acc - torchAcc));
    QVERIFY(std::abs(acc - torchAcc) <= kQuantizedTolerance);
}

QTEST_GUILESS_MAIN(TstOnnxReference)
#include "tst_onnx_reference.moc"
