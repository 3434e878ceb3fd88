// bonsai-cli train: trains the demo Fashion-MNIST CNN (train_demo.h) and writes it as ONNX.
#include "commands.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/onnx_write.h"
#include "bonsai/train.h"
#include "bonsai/train_demo.h"
#include "bonsai/readers.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <omp.h>

namespace cli {
namespace {

double testAccuracy(const bonsai::Model& model, const bonsai::WeightMap& w, const bonsai::Dataset& test)
{
    auto m = bonsai::readOnnxBytes(bonsai::onnxBytesWithWeights(model, w));
    bonsai::EvalOptions eo;
    eo.quickSamples = 0;
    bonsai::Evaluator ev(*m, test, eo);
    return ev.reference().metrics.top1;
}

} // namespace

int cmdTrain(const Args& in)
{
    Args args = in;
    const char* usage =
        "bonsai-cli train --out OUT.onnx [--epochs N] [--seed S] [--batch B] [--lr X] "
        "[--optimizer adam|sgd] [--weight-decay WD] [--dataset DIR] [--limit N] [--json]";
    const bool asJson = takeFlag(args, "--json");
    std::string out, epochsS = "15", seedS = std::to_string(bonsai::kDefaultTrainSeed), batchS = "64",
                     lrS = "0.001", optS = "adam", wdS = "0", dataset = bonsai::defaultDatasetPath(), limitS = "0";
    takeOption(args, "--out", out);
    takeOption(args, "--epochs", epochsS);
    takeOption(args, "--seed", seedS);
    takeOption(args, "--batch", batchS);
    takeOption(args, "--lr", lrS);
    takeOption(args, "--optimizer", optS);
    takeOption(args, "--weight-decay", wdS);
    takeOption(args, "--dataset", dataset);
    takeOption(args, "--limit", limitS);
    expectPositional(args, 0, usage);
    if (out.empty())
        throw UsageError(std::string("--out is required\n") + usage);
    int epochs = 0;
    int64_t limit = 0;
    bonsai::TrainOptions opt;
    try {
        epochs = std::stoi(epochsS);
        opt.seed = std::stoull(seedS);
        opt.batch = std::stoll(batchS);
        opt.lr = std::stod(lrS);
        opt.weightDecay = std::stod(wdS);
        limit = std::stoll(limitS);
    } catch (const std::exception&) {
        throw UsageError("--epochs, --seed, --batch and --limit take whole numbers, --lr and --weight-decay numbers");
    }
    if (epochs < 1 || opt.batch < 1 || opt.batch > 65536 || !(opt.lr > 0) || opt.weightDecay < 0 || limit < 0)
        throw UsageError("--epochs and --batch must be >= 1, --lr > 0, --weight-decay and --limit >= 0");
    if (optS != "adam" && optS != "sgd")
        throw UsageError("--optimizer must be adam or sgd");
    opt.optimizer = optS == "adam" ? bonsai::TrainOptions::Optimizer::Adam : bonsai::TrainOptions::Optimizer::Sgd;

    auto model = bonsai::readOnnxBytes(bonsai::fashionCnnOnnx(opt.seed));
    bonsai::Trainer trainer(*model, opt);
    bonsai::DatasetOptions dtrain;
    dtrain.split = "train";
    auto trainSet = bonsai::openDataset(dataset, dtrain);
    auto testSet = bonsai::openDataset(dataset, {});
    auto shape = trainer.inputShape();
    shape[0] = 1;
    const auto data = bonsai::TrainData::load(*trainSet, shape, limit);
    const int64_t perEpoch = opt.batch > 0 ? (data.size + opt.batch - 1) / opt.batch : 0;
    const double total = static_cast<double>(perEpoch) * epochs;
    if (!asJson)
        std::printf("training the demo CNN on %lld images (%s), %d epochs, batch %lld, %s lr %g (cosine), "
                    "seed %llu, %d threads\n",
                    static_cast<long long>(data.size), trainSet->path().c_str(), epochs,
                    static_cast<long long>(opt.batch), optS.c_str(), opt.lr,
                    static_cast<unsigned long long>(opt.seed), omp_get_max_threads());
    std::fflush(stdout);
    // Cosine decay of the learning rate over all steps.
    const auto schedule = [&](const bonsai::StepInfo& s) {
        trainer.setLearningRate(opt.lr * 0.5 * (1.0 + std::cos(3.141592653589793 * static_cast<double>(s.step) / total)));
        return true;
    };
    nlohmann::ordered_json j;
    j["seed"] = opt.seed;
    j["batch"] = opt.batch;
    j["lr"] = opt.lr;
    j["optimizer"] = optS;
    j["threads"] = omp_get_max_threads();
    auto& je = j["epochs"] = nlohmann::ordered_json::array();
    double trainSeconds = 0;
    for (int e = 0; e < epochs; ++e) {
        const auto r = trainer.trainEpoch(data, e, schedule);
        trainSeconds += r.seconds;
        const double acc = testAccuracy(*model, trainer.snapshot(), *testSet);
        je.push_back({{"epoch", e + 1}, {"loss", r.loss}, {"train_accuracy", r.accuracy},
                      {"test_accuracy", acc}, {"seconds", r.seconds}});
        if (!asJson) {
            std::printf("epoch %2d/%d  loss %.4f  train %.2f%%  test %.2f%%  %.1f s\n", e + 1, epochs, r.loss,
                        100 * r.accuracy, 100 * acc, r.seconds);
            std::fflush(stdout);
        }
    }
    bonsai::writeOnnxWithWeights(*model, trainer.snapshot(), out);
    // Check what was written: our reader, the evaluator.
    auto written = bonsai::Model::open(out);
    bonsai::EvalOptions eo;
    eo.quickSamples = 0;
    bonsai::Evaluator ev(*written, *testSet, eo);
    const double finalAcc = ev.reference().metrics.top1;
    j["out"] = out;
    j["test_accuracy"] = finalAcc;
    j["train_seconds"] = trainSeconds;
    if (asJson)
        std::puts(j.dump(2).c_str());
    else
        std::printf("wrote %s: test accuracy %.2f%%, %.1f s of training\n", out.c_str(), 100 * finalAcc, trainSeconds);
    return 0;
}

} // namespace cli
