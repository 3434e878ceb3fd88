#include "sensitivityrunner.h"

#include "jobrunner.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

#include <QElapsedTimer>

namespace bonsai::ui {

SensitivityRunner::SensitivityRunner(QObject* parent) : QObject(parent), m_runner(new JobRunner(this)) {}

SensitivityRunner::~SensitivityRunner()
{
    m_runner->cancel();
    m_runner->waitForIdle();
}

void SensitivityRunner::cancel() { m_runner->cancel(); }

bool SensitivityRunner::isBusy() const { return m_runner->isBusy(); }

quint64 SensitivityRunner::start(const SensitivityRequest& request, QObject* receiver, Live live, Done done)
{
    std::function<SensitivitySnapshot(JobControl&)> work = [request, live = std::move(live)](JobControl& c) {
        if (!c.progress(0))
            throw bonsai::Cancelled();
        QElapsedTimer clock;
        clock.start();
        qint64 lastPost = -1;
        SensitivitySnapshot last;
        auto callback = [&](const bonsai::SensitivityTable& table, const bonsai::SensitivityProgress& p) {
            last.progress = p;
            const bool ended = p.cellsTotal > 0 && p.cellsDone >= p.cellsTotal;
            // Before its cells exist (reading the data) a report carries the stage only.
            const bool shaped = !table.cells.empty() && table.cells.size() == table.layers.size();
            if (live && (lastPost < 0 || ended || clock.elapsed() - lastPost >= SnapshotIntervalMs)) {
                lastPost = shaped ? clock.elapsed() : -1;
                SensitivitySnapshot s;
                if (shaped)
                    s.table = std::make_shared<const bonsai::SensitivityTable>(table);
                s.progress = p;
                c.post([live, s = std::move(s)] { live(s); }); // current job only
            }
            return c.progress(p.fraction);
        };
        last.table = std::make_shared<const bonsai::SensitivityTable>(
            bonsai::measureSensitivity(*request.model, request.recipe, request.spec, request.options, callback));
        last.complete = true;
        last.progress.fraction = 1;
        return last;
    };
    return m_runner->start<SensitivitySnapshot>(tr("Measuring sensitivity"), std::move(work), receiver,
                                                std::move(done));
}

} // namespace bonsai::ui
