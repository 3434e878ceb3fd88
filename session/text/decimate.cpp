#include "decimate.h"

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

RangeCurves decimateRanges(const std::vector<float>& channelMin,
                           const std::vector<float>& channelMax, int maxPoints)
{
    RangeCurves out;
    const size_t n = std::min(channelMin.size(), channelMax.size());
    if (n == 0)
        return out;
    const size_t limit = static_cast<size_t>(std::max(maxPoints, 1));
    const size_t bucket = (n + limit - 1) / limit;
    out.bucketSize = static_cast<int>(bucket);
    for (size_t first = 0; first < n; first += bucket) {
        const size_t last = std::min(n, first + bucket);
        float lo = channelMin[first], hi = channelMax[first];
        for (size_t i = first + 1; i < last; ++i) {
            lo = std::min(lo, channelMin[i]);
            hi = std::max(hi, channelMax[i]);
        }
        out.min.append(QPointF(static_cast<double>(first), lo));
        out.max.append(QPointF(static_cast<double>(first), hi));
    }
    return out;
}

} // namespace bonsai::ui
