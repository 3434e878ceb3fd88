#pragma once
// What the data set harnesses share: every refusal names one of the harness's files, and an
// opened data set is preprocessed for its own sample shape (NCHW and flattened) and its first
// samples filled, as evaluation does.
#include "bonsai/dataset.h"
#include "fuzz_input.h"

#include <algorithm>
#include <vector>

namespace bonsai::fuzz {

// Runs f (which opens files in workDir()); a refusal must name one of them.
template <class F>
void expectDatasetErrors(F&& f)
{
    expectOnlyBonsaiErrors([&] {
        try {
            f();
        } catch (const bonsai::FileError& e) {
            if (e.path().rfind(workDir().string(), 0) != 0) {
                std::fprintf(stderr, "error does not name the data file: %s\n", e.what());
                std::abort();
            }
            throw;
        } catch (const bonsai::Error& e) {
            std::fprintf(stderr, "data set error without a file: %s\n", e.what());
            std::abort();
        }
    });
}

// Per-sample elements the harness asks batches of (the model shape is the harness's).
inline constexpr int64_t kMaxSampleElements = 1 << 16;

inline void exerciseDataset(const Dataset& d)
{
    const SampleShape s = d.sampleShape();
    const std::vector<std::vector<int64_t>> shapes = {
        {1, s.c, s.h, s.w}, {1, s.c * s.h * s.w}, {1, 3, 5, 7}, {1, 1, 4, 4}};
    for (const auto& shape : shapes) {
        int64_t per = 1;
        for (size_t k = 1; k < shape.size(); ++k)
            per *= shape[k];
        if (per <= 0 || per > kMaxSampleElements)
            continue;
        try {
            d.preprocess(shape);
        } catch (const bonsai::FileError&) {
            continue; // this shape does not fit the data; the next may
        }
        const int64_t n = std::min<int64_t>(d.size(), 4);
        std::vector<float> out(static_cast<size_t>(n * per));
        std::vector<int64_t> labels(static_cast<size_t>(n));
        d.fillBatch(0, n, shape, out.data(), labels.data());
        if (d.size() > n)
            d.fillBatch(d.size() - 1, 1, shape, out.data(), labels.data());
    }
}

} // namespace bonsai::fuzz
