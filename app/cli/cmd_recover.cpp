// bonsai-cli recover: trains a compressed ONNX classifier back towards its accuracy
// (finetune, quantization-aware training, distillation, lottery ticket) and writes it as ONNX.
#include "commands.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/recipe.h"
#include "bonsai/recover.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace cli {

int cmdRecover(const Args& in)
{
    Args args = in;
    const char* usage =
        "bonsai-cli recover MODEL --recipe R.json --method finetune|qat|distill|lottery --out OUT.onnx "
        "[--epochs N] [--steps N] [--lr X] [--batch B] [--seed S] [--temperature T] [--alpha A] [--rounds K] "
        "[--target-sparsity S] [--rewind init|STEP] [--limit N] [--eval-limit N] [--dataset PATH] "
        "[--test-dataset PATH] [--json]";
    const bool asJson = takeFlag(args, "--json");
    std::string recipePath, methodS, out, epochsS = "1", stepsS = "0", lrS = "0.0001", batchS = "64",
                seedS = std::to_string(bonsai::kDefaultTrainSeed), tS = "4", alphaS = "0.7", roundsS = "3",
                targetS = "0.8", rewindS = "init", limitS = "0", evalLimitS = "0",
                dataset = bonsai::defaultDatasetPath(), testDataset;
    takeOption(args, "--recipe", recipePath);
    takeOption(args, "--method", methodS);
    takeOption(args, "--out", out);
    takeOption(args, "--epochs", epochsS);
    takeOption(args, "--steps", stepsS);
    takeOption(args, "--lr", lrS);
    takeOption(args, "--batch", batchS);
    takeOption(args, "--seed", seedS);
    takeOption(args, "--temperature", tS);
    takeOption(args, "--alpha", alphaS);
    takeOption(args, "--rounds", roundsS);
    takeOption(args, "--target-sparsity", targetS);
    takeOption(args, "--rewind", rewindS);
    takeOption(args, "--limit", limitS);
    takeOption(args, "--eval-limit", evalLimitS);
    takeOption(args, "--dataset", dataset);
    takeOption(args, "--test-dataset", testDataset);
    expectPositional(args, 1, usage);
    if (methodS.empty())
        throw UsageError(std::string("--method is required\n") + usage);
    const auto method = bonsai::parseRecoverMethod(methodS);
    if (!method)
        throw UsageError("unknown method '" + methodS + "' (finetune, qat, distill or lottery)");
    if (out.empty())
        throw UsageError(std::string("--out is required\n") + usage);
    if (recipePath.empty() && *method != bonsai::RecoverMethod::Lottery)
        throw UsageError(std::string("--recipe is required (optional only for --method lottery)\n") + usage);
    bonsai::RecoverOptions o;
    o.method = *method;
    try {
        o.epochs = std::stoi(epochsS);
        o.steps = std::stoll(stepsS);
        o.lr = std::stod(lrS);
        o.batch = std::stoll(batchS);
        o.seed = std::stoull(seedS);
        o.temperature = std::stod(tS);
        o.alpha = std::stod(alphaS);
        o.rounds = std::stoi(roundsS);
        o.targetSparsity = std::stod(targetS);
        o.rewindStep = rewindS == "init" ? 0 : std::stoll(rewindS);
        o.limit = std::stoll(limitS);
        o.evalLimit = std::stoll(evalLimitS);
    } catch (const std::exception&) {
        throw UsageError("--epochs, --steps, --batch, --seed, --rounds, --limit and --eval-limit take whole numbers, "
                         "--lr, --temperature, --alpha and --target-sparsity numbers, --rewind init or a step count");
    }
    if (o.epochs < 1 || o.steps < 0 || !(o.lr > 0) || o.batch < 1 || o.batch > 65536 || o.limit < 0 ||
        o.evalLimit < 0 || o.rounds < 1 || o.rewindStep < 0 || !(o.temperature > 0) || o.alpha < 0 || o.alpha > 1 ||
        !(o.targetSparsity > 0) || !(o.targetSparsity < 1))
        throw UsageError("--epochs, --rounds and --batch must be >= 1, --lr and --temperature > 0, --alpha in [0, 1], "
                         "--target-sparsity in (0, 1), --steps, --limit, --eval-limit and --rewind >= 0");

    // Everything is checked before any work starts.
    auto model = bonsai::Model::open(args[0]);
    if (model->format != bonsai::Format::Onnx)
        throw bonsai::Error("'" + args[0] + "' is a " + std::string(bonsai::formatName(model->format)) +
                            " file; recovery trains ONNX models only");
    std::vector<bonsai::LayerConfig> configs(model->layers.size());
    if (!recipePath.empty()) {
        const auto recipe = bonsai::Recipe::load(recipePath);
        for (const auto& w : recipe.warnings(*model))
            std::fprintf(stderr, "bonsai-cli recover: warning: %s: %s\n", recipePath.c_str(), w.c_str());
        configs = bonsai::resolveConfigs(*model, recipe);
    }
    bonsai::DatasetOptions dtrain;
    dtrain.split = "train";
    auto trainSet = bonsai::openDataset(dataset, dtrain);
    auto testSet = bonsai::openDataset(testDataset.empty() ? dataset : testDataset, {});

    if (!asJson) {
        std::printf("recovering %s with %s on %s\n", args[0].c_str(), methodS.c_str(), trainSet->path().c_str());
        for (const auto& note : bonsai::recoverNotes(o.method, configs))
            std::printf("note: %s\n", note.c_str());
        std::fflush(stdout);
    }
    const auto r = bonsai::recover(*model, configs, *trainSet, *testSet, o);
    bonsai::writeRecovered(*model, r, out);

    nlohmann::ordered_json j;
    j["method"] = methodS;
    j["accuracy_before"] = r.accuracyBefore;
    j["accuracy_after"] = r.accuracyAfter;
    j["notes"] = r.notes;
    auto& je = j["epochs"] = nlohmann::ordered_json::array();
    for (const auto& e : r.epochs) {
        nlohmann::ordered_json x{{"round", e.round}, {"epoch", e.epoch}, {"loss", e.loss},
                                 {"train_accuracy", e.trainAccuracy}, {"steps", e.steps}, {"seconds", e.seconds}};
        if (e.testAccuracy >= 0)
            x["test_accuracy"] = e.testAccuracy;
        je.push_back(x);
    }
    auto& jr = j["rounds"] = nlohmann::ordered_json::array();
    for (const auto& rr : r.rounds)
        jr.push_back({{"round", rr.round}, {"sparsity", rr.sparsity}, {"pruned", rr.pruned},
                      {"prunable", rr.prunable}, {"accuracy", rr.accuracy}});
    j["seconds"] = r.seconds;
    j["out"] = out;
    if (asJson) {
        std::puts(j.dump(2).c_str());
        return 0;
    }
    for (const auto& e : r.epochs) {
        std::printf("%sepoch %d  loss %.4f  train %.2f%%", e.round ? ("round " + std::to_string(e.round) + "  ").c_str() : "",
                    e.epoch, e.loss, 100 * e.trainAccuracy);
        if (e.testAccuracy >= 0)
            std::printf("  test %.2f%%", 100 * e.testAccuracy);
        std::printf("  %.1f s\n", e.seconds);
    }
    for (const auto& rr : r.rounds)
        std::printf("round %d: sparsity %.2f%% (%llu of %llu pruned), test %.2f%%\n", rr.round, 100 * rr.sparsity,
                    static_cast<unsigned long long>(rr.pruned), static_cast<unsigned long long>(rr.prunable),
                    100 * rr.accuracy);
    std::printf("accuracy before %.2f%%, after %.2f%%; wrote %s (%.1f s)\n", 100 * r.accuracyBefore,
                100 * r.accuracyAfter, out.c_str(), r.seconds);
    return 0;
}

} // namespace cli
