#pragma once
// The immutable result of one statistics job, passed whole through signals.
#include "bonsai/stats.h"

#include <QMetaType>
#include <QString>

#include <memory>

namespace bonsai::ui {

struct StatsResult {
    int tensor = -1;
    int channelAxis = -1;
    QString label; // layer or tensor name as shown in the table
    std::shared_ptr<const bonsai::TensorStats> stats;
};

} // namespace bonsai::ui

Q_DECLARE_METATYPE(bonsai::ui::StatsResult)
