#pragma once
// Progress and cancellation for long-running core work. Core code knows nothing of Qt:
// callers pass a callback, which the work calls between chunks.
#include "bonsai/error.h"

#include <functional>

namespace bonsai {

// Called with the fraction done in [0, 1]. Return false to cancel; the work then throws
// Cancelled at its next check.
using ProgressFn = std::function<bool(double fraction)>;

class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

inline void reportProgress(const ProgressFn& fn, double fraction)
{
    if (fn && !fn(fraction))
        throw Cancelled();
}

} // namespace bonsai
