#pragma once
// Evaluation metrics over a model's logits, accumulated batch by batch so a progressive
// evaluation can show running values:
//   top-1 / top-5 accuracy against the labels, each with a 95% Wilson score interval;
//   agreement of the top-1 class with the uncompressed (reference) model's top-1;
//   mean KL(p_ref || p) of the softmax distributions, in nats, computed with log-sum-exp in
//   double.
// Top-k: the label is in the top k when fewer than k classes rank before it, a class ranking
// before another when its logit is larger, or equal with a lower index (so top-1 is the first
// argmax, as numpy.argmax). A NaN logit for the label counts as wrong; other NaNs never rank
// before anything. Plus a per-layer output error helper (SQNR in dB).
#include <cstdint>
#include <vector>

namespace bonsai {

// Wilson score interval for `successes` of `n` Bernoulli trials at normal quantile z
// (1.959963984540054 for 95%):
//   centre = (p + z^2/2n) / (1 + z^2/n),  half = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)
// with p = successes / n; [0, 1] when n = 0. Unlike the normal (Wald) interval it stays
// inside [0, 1] and keeps its coverage near 0% and 100%.
struct Interval {
    double lo = 0, hi = 1;
};
constexpr double kZ95 = 1.959963984540054;
Interval wilsonInterval(int64_t successes, int64_t n, double z = kZ95);

// One batch of logits, row-major [count x classes].
struct LogitsBatch {
    const float* logits = nullptr;
    int64_t count = 0;
    int64_t classes = 0;
    const int64_t* labels = nullptr; // [count]; null: no accuracy
    const float* reference = nullptr; // uncompressed model's logits, same shape; null: none
};

struct MetricsSnapshot {
    int64_t samples = 0;
    int64_t classes = 0;
    // Accuracy (labels given).
    int64_t labelled = 0, top1Correct = 0, top5Correct = 0;
    double top1 = 0, top5 = 0; // fractions in [0, 1]
    Interval top1Ci, top5Ci;
    // Against the reference model (reference logits given).
    int64_t compared = 0, agree = 0;
    double agreement = 0;
    Interval agreementCi;
    double meanKl = 0; // nats
};

class Metrics {
public:
    // Throws bonsai::Error on a label outside [0, classes) or a class count that changes.
    void add(const LogitsBatch& batch);
    MetricsSnapshot snapshot() const;
    void reset() { *this = Metrics(); }

private:
    int64_t samples_ = 0, classes_ = 0;
    int64_t labelled_ = 0, top1_ = 0, top5_ = 0;
    int64_t compared_ = 0, agree_ = 0;
    double klSum_ = 0;
};

// KL(p_ref || p) in nats of softmax(refLogits) and softmax(logits), each of n classes.
double klDivergence(const float* refLogits, const float* logits, int64_t n);

// SQNR in dB of a compressed layer's output x against the original's ref on the same inputs:
// 10 log10(sum ref^2 / sum (ref - x)^2), summed in double; +inf when exact (also when both
// are all zero), -inf when ref is all zero and x is not.
double outputSqnrDb(const float* ref, const float* x, int64_t n);

// The same, accumulated over several batches of one layer's outputs.
class SqnrAccumulator {
public:
    void add(const float* ref, const float* x, int64_t n);
    double db() const;

private:
    double signal_ = 0, noise_ = 0;
};

} // namespace bonsai
