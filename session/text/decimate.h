#pragma once
// Reduces per-channel min/max curves to at most `maxPoints` buckets for plotting, keeping
// extremes: a bucket's value is the minimum of the minima and the maximum of the maxima.
#include <QList>
#include <QPointF>

#include <vector>

namespace bonsai::ui {

struct RangeCurves {
    QList<QPointF> min, max; // x = first channel of the bucket
    int bucketSize = 1;
};

RangeCurves decimateRanges(const std::vector<float>& channelMin,
                           const std::vector<float>& channelMax, int maxPoints);

} // namespace bonsai::ui
