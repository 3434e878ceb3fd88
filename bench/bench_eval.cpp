// Benchmark: evaluating the demo CNN on the 10,000 Fashion-MNIST test images through the
// Evaluator (data loading, compressed weights, metrics), full and incremental.
// Target: the full set under 0.5 s on 2 threads; the incremental re-evaluation after changing
// only the last layer much faster than a full one.
#include "bench_util.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <filesystem>

int main(int argc, char** argv)
{
    const std::string modelPath = argc > 1 ? argv[1] : BONSAI_DEMO_MODEL;
    if (!std::filesystem::exists(bonsai::defaultDatasetDir())) {
        std::printf("bench_eval: %s not installed (Debian package dataset-fashion-mnist); skipped\n",
                    bonsai::defaultDatasetDir().c_str());
        return 0;
    }
    try {
        auto model = bonsai::Model::open(modelPath);
        auto data = bonsai::openDataset(bonsai::defaultDatasetPath());
        std::vector<bonsai::LayerConfig> changed(model->layers.size());
        changed.back() = bonsai::Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4"}})").resolve("x");
        for (int threads : {1, 2}) {
            omp_set_num_threads(threads);
            double full = 1e9, inc = 1e9, ref = 0;
            for (int rep = 0; rep < 3; ++rep) {
                bonsai::EvalOptions noCache;
                noCache.incremental = false;
                bonsai::Evaluator plain(*model, *data, noCache);
                double t0 = bench::now();
                plain.reference();
                ref = bench::now() - t0;
                t0 = bench::now();
                const auto r = plain.evaluate(changed);
                full = std::min(full, bench::now() - t0);
                bonsai::Evaluator cached(*model, *data, {});
                cached.reference();
                t0 = bench::now();
                const auto ri = cached.evaluate(changed);
                inc = std::min(inc, bench::now() - t0);
                if (ri.metrics.top1Correct != r.metrics.top1Correct)
                    std::printf("MISMATCH between incremental and full evaluation\n");
            }
            std::printf("[eval] %d thread(s): reference pass %.3f s; full evaluation (last layer int4) %.3f s "
                        "(target < 0.5 s on 2 threads); incremental %.3f s = %.1fx faster\n",
                        threads, ref, full, inc, full / inc);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_eval: %s\n", e.what());
        return 1;
    }
    return 0;
}
