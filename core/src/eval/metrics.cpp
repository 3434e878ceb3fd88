// Evaluation metrics: top-k accuracy with Wilson intervals, agreement and KL divergence
// against a reference model, output SQNR.
#include "bonsai/metrics.h"
#include "common/parallel.h"

#include "bonsai/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace bonsai {

Interval wilsonInterval(int64_t successes, int64_t n, double z)
{
    if (n <= 0)
        return {0.0, 1.0};
    const double nn = static_cast<double>(n);
    const double p = static_cast<double>(successes) / nn;
    const double z2 = z * z;
    const double denom = 1.0 + z2 / nn;
    const double centre = (p + z2 / (2.0 * nn)) / denom;
    const double half = z / denom * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

namespace {

// Classes ranking before class y (larger logit, or equal with a lower index); NaNs never
// rank before. A NaN at y ranks last.
int64_t rankOf(const float* l, int64_t k, int64_t y)
{
    if (std::isnan(l[y]))
        return k;
    int64_t r = 0;
    for (int64_t j = 0; j < k; ++j)
        r += l[j] > l[y] || (j < y && l[j] == l[y]);
    return r;
}

int64_t argmax(const float* l, int64_t k)
{
    int64_t best = -1;
    for (int64_t j = 0; j < k; ++j)
        if (!std::isnan(l[j]) && (best < 0 || l[j] > l[best]))
            best = j;
    return best;
}

double logSumExp(const float* l, int64_t k)
{
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < k; ++j)
        m = std::max(m, static_cast<double>(l[j]));
    if (!std::isfinite(m))
        return m;
    double s = 0;
    for (int64_t j = 0; j < k; ++j)
        s += std::exp(static_cast<double>(l[j]) - m);
    return m + std::log(s);
}

} // namespace

double klDivergence(const float* ref, const float* l, int64_t n)
{
    const double lr = logSumExp(ref, n), lp = logSumExp(l, n);
    double kl = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double logPr = static_cast<double>(ref[j]) - lr;
        const double pr = std::exp(logPr);
        if (pr > 0) // 0 log 0 = 0
            kl += pr * (logPr - (static_cast<double>(l[j]) - lp));
    }
    return std::max(0.0, kl);
}

void Metrics::add(const LogitsBatch& b)
{
    if (b.count <= 0)
        return;
    if (b.classes <= 0 || !b.logits)
        throw Error("metrics: a batch needs logits and a class count");
    if (classes_ != 0 && b.classes != classes_)
        throw Error("metrics: the batch has " + std::to_string(b.classes) + " classes, earlier ones had " +
                    std::to_string(classes_));
    if (b.labels)
        for (int64_t i = 0; i < b.count; ++i)
            if (b.labels[i] < 0 || b.labels[i] >= b.classes)
                throw Error("metrics: label " + std::to_string(b.labels[i]) + " is outside the model's " +
                            std::to_string(b.classes) + " classes");
    classes_ = b.classes;
    const int64_t k = b.classes, top = std::min<int64_t>(5, k);
    int64_t t1 = 0, t5 = 0, agree = 0;
    double kl = 0;
#pragma omp parallel for reduction(+ : t1, t5, agree, kl) if (b.count * k > kParallelMin)
    for (int64_t i = 0; i < b.count; ++i) {
        const float* l = b.logits + i * k;
        if (b.labels) {
            const int64_t r = rankOf(l, k, b.labels[i]);
            t1 += r < 1;
            t5 += r < top;
        }
        if (b.reference) {
            const float* ref = b.reference + i * k;
            agree += argmax(l, k) == argmax(ref, k);
            kl += klDivergence(ref, l, k);
        }
    }
    samples_ += b.count;
    if (b.labels)
        labelled_ += b.count, top1_ += t1, top5_ += t5;
    if (b.reference)
        compared_ += b.count, agree_ += agree, klSum_ += kl;
}

MetricsSnapshot Metrics::snapshot() const
{
    MetricsSnapshot s;
    s.samples = samples_;
    s.classes = classes_;
    s.labelled = labelled_, s.top1Correct = top1_, s.top5Correct = top5_;
    if (labelled_ > 0) {
        s.top1 = double(top1_) / double(labelled_);
        s.top5 = double(top5_) / double(labelled_);
    }
    s.top1Ci = wilsonInterval(top1_, labelled_);
    s.top5Ci = wilsonInterval(top5_, labelled_);
    s.compared = compared_, s.agree = agree_;
    if (compared_ > 0) {
        s.agreement = double(agree_) / double(compared_);
        s.meanKl = klSum_ / double(compared_);
    }
    s.agreementCi = wilsonInterval(agree_, compared_);
    return s;
}

void SqnrAccumulator::add(const float* ref, const float* x, int64_t n)
{
    double sig = 0, noise = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double r = ref[i], d = r - static_cast<double>(x[i]);
        sig += r * r;
        noise += d * d;
    }
    signal_ += sig;
    noise_ += noise;
}

double SqnrAccumulator::db() const
{
    if (noise_ == 0)
        return std::numeric_limits<double>::infinity();
    if (signal_ == 0)
        return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal_ / noise_);
}

double outputSqnrDb(const float* ref, const float* x, int64_t n)
{
    SqnrAccumulator a;
    a.add(ref, x, n);
    return a.db();
}

} // namespace bonsai
