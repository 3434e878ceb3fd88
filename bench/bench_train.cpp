// Time of one training epoch of the demo Fashion-MNIST CNN (bonsai-cli train's model, Adam,
// batch 64) over the 60,000 training images, on 2 threads and on 1 thread.
//
//   bench_train [--limit N] [--batch B]
//
// --limit times the first N images and scales the figure to 60,000. Skips (exit 0) with a
// message when Debian's dataset-fashion-mnist is not installed.
#include "bonsai/dataset.h"
#include "bonsai/train.h"
#include "bonsai/train_demo.h"
#include "bonsai/readers.h"

#include <omp.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

int main(int argc, char** argv)
{
    int64_t limit = 0, batch = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--limit"))
            limit = std::stoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--batch"))
            batch = std::stoll(argv[i + 1]);
    }
    const std::string dir = bonsai::defaultDatasetDir();
    if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz") &&
        !std::filesystem::exists(dir + "/train-images-idx3-ubyte")) {
        std::printf("bench_train: skipped: the Fashion-MNIST training set is not installed in %s "
                    "(apt-get install dataset-fashion-mnist)\n", dir.c_str());
        return 0;
    }
    try {
        bonsai::DatasetOptions dopt;
        dopt.split = "train";
        auto set = bonsai::openDataset(bonsai::defaultDatasetPath(), dopt);
        auto model = bonsai::readOnnxBytes(bonsai::fashionCnnOnnx(bonsai::kDefaultTrainSeed));
        const auto data = bonsai::TrainData::load(*set, {1, 1, 28, 28}, limit);
        const double scale = 60000.0 / static_cast<double>(data.size);
        std::printf("demo CNN (2.63 M multiply-adds per image), Adam, batch %lld, %lld images%s\n",
                    static_cast<long long>(batch), static_cast<long long>(data.size),
                    data.size != 60000 ? " (scaled to 60,000)" : "");
        const int maxThreads = omp_get_max_threads();
        for (int threads : {2, 1}) {
            if (threads > maxThreads && threads > 1) {
                std::printf("  %d threads: skipped (%d available)\n", threads, maxThreads);
                continue;
            }
            omp_set_num_threads(threads);
            bonsai::TrainOptions opt;
            opt.batch = batch;
            bonsai::Trainer trainer(*model, opt);
            const auto r = trainer.trainEpoch(data, 0);
            std::printf("  %d thread%s: %6.1f s per epoch of 60,000 images (%.0f images/s, loss %.4f)\n", threads,
                        threads > 1 ? "s" : " ", r.seconds * scale, static_cast<double>(r.samples) / r.seconds, r.loss);
            std::fflush(stdout);
        }
        omp_set_num_threads(maxThreads);
        std::printf("  yardstick: PyTorch (CPU, Adam, 2 threads) takes about 45-65 s per epoch of this "
                    "model on this machine kind\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: %s\n", e.what());
        return 1;
    }
    return 0;
}
