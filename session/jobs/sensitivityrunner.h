#pragma once
// The budget search's measurement off the GUI thread: bonsai::measureSensitivity on the open
// model, its calibration data (a classifier's data set or a language model's text) and the
// candidates, with the core's cache. The core reports after every cell; the runner forwards a
// snapshot of the table to the caller's thread at most every SnapshotIntervalMs (and always
// the first one, with every estimate, and the last), so the sensitivity map fills live without
// flooding the event loop. Newest request wins: start() cancels the running job; snapshots and
// the result reach the caller only while the job is current. Progress, ETA and cancellation
// are the JobRunner's.
#include "bonsai/recipe.h"
#include "bonsai/search.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class JobRunner;

struct SensitivityRequest {
    std::shared_ptr<const bonsai::Model> model;
    bonsai::Recipe recipe; // the layers' starting configuration (candidates patch it)
    bonsai::SearchSpec spec;
    bonsai::SensitivityOptions options;
};

// The table as it stands, and the report that came with it.
struct SensitivitySnapshot {
    std::shared_ptr<const bonsai::SensitivityTable> table; // null until its cells exist
    bonsai::SensitivityProgress progress;
    bool complete = false; // the job's result (every cell it was asked for)
};

class SensitivityRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int SnapshotIntervalMs = 100;
    using Live = std::function<void(const SensitivitySnapshot&)>;
    using Done = std::function<void(const SensitivitySnapshot&)>;

    explicit SensitivityRunner(QObject* parent = nullptr);
    ~SensitivityRunner() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }
    // Starts a measurement (the previous one is cancelled); `live` and `done` run on this
    // object's thread while `receiver` exists. Returns the job id (JobRunner's).
    quint64 start(const SensitivityRequest& request, QObject* receiver, Live live, Done done);
    void cancel();
    bool isBusy() const;

private:
    JobRunner* m_runner;
};

} // namespace bonsai::ui
