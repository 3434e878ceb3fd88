// Benchmark: the live preview's cost — compressLayer on one 4096 x 4096 (16.8M-parameter)
// FP16 layer for the configurations a slider moves through. Target: under 100 ms each, so
// the preview follows a slider.
#include "bench_util.h"
#include "bonsai/describe.h"

#include "bonsai/compress.h"
#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <random>

int main()
{
    // As the applications do: keep large freed blocks for reuse instead of unmapping them.
    mallopt(M_MMAP_MAX, 0); // all from the heap, so freed blocks are reused
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    const std::string path = (std::filesystem::temp_directory_path() / "bonsai-bench-layer.safetensors").string();
    {
        const int64_t n = 4096LL * 4096;
        std::string header = "{\"w.weight\":{\"dtype\":\"F16\",\"shape\":[4096,4096],\"data_offsets\":[0," +
                             std::to_string(2 * n) + "]}}";
        std::ofstream f(path, std::ios::binary);
        const uint64_t hl = header.size();
        f.write(reinterpret_cast<const char*>(&hl), 8);
        f << header;
        std::vector<uint16_t> v(static_cast<size_t>(n));
        std::mt19937 rng(1);
        std::normal_distribution<float> g(0.0f, 0.02f);
        for (auto& x : v)
            x = bonsai::floatToFp16(g(rng));
        f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(2 * n));
    }
    auto model = bonsai::Model::open(path);
    const char* configs[] = {
        R"({"precision":"int8"})",
        R"({"precision":"int4","granularity":"group","group_size":128})",
        R"({"precision":"int4","granularity":"group","group_size":128,"symmetric":false,"clip_search":true})",
        R"({"precision":"nf4"})",
        R"({"precision":"q4_k"})",
        R"({"precision":"int8","sparsity":0.5})",
        R"({"precision":"int8","sparsity_pattern":"2:4"})",
        R"({"precision":"fp16","rank":64})",
    };
    for (int threads : {2, 1}) {
        omp_set_num_threads(threads);
        std::printf("\n[compressLayer] 4096 x 4096 FP16 layer, %d thread(s) (target < 100 ms)\n", threads);
        for (const char* c : configs) {
            const auto cfg = bonsai::Recipe::parse(std::string(R"({"bonsai_recipe":1,"defaults":)") + c + "}").resolve("w");
            std::vector<float> rec;
            double best = 1e9;
            bonsai::LayerResult r;
            for (int rep = 0; rep < 3; ++rep) {
                const double t0 = bench::now();
                r = bonsai::compressLayer(*model, 0, cfg, &rec);
                best = std::min(best, bench::now() - t0);
            }
            std::printf("  %-44s %7.1f ms  %.3f bits/w  SQNR %.2f dB\n", bonsai::describe(cfg).c_str(), best * 1e3,
                        r.bitsPerWeight(), r.error.sqnrDb);
        }
        // A rank slider moving: the factors are computed once, then only truncated.
        bonsai::RankCache cache;
        std::vector<float> rec;
        auto rankCfg = [](int r) {
            return bonsai::Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"fp16","rank":)" + std::to_string(r) + "}}")
                .resolve("w");
        };
        bonsai::compressLayer(*model, 0, rankCfg(64), &rec, nullptr, &cache);
        double worst = 0;
        for (int r = 63; r >= 40; --r) {
            const double t0 = bench::now();
            bonsai::compressLayer(*model, 0, rankCfg(r), &rec, nullptr, &cache);
            worst = std::max(worst, bench::now() - t0);
        }
        std::printf("  %-44s %7.1f ms  (worst step, factors cached)\n", "rank slider 63 -> 40", worst * 1e3);
    }
    std::filesystem::remove(path);
    return 0;
}
