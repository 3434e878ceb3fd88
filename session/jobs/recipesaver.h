#pragma once
// Saving a recipe with its provenance, without widgets: the SHA-256 of the model's files and
// of the calibration data (seconds for a large checkpoint) is computed on the JobRunner's
// worker, with progress and cancel, and the recipe is written there atomically (a temporary
// renamed into place) once the digests are known; a failed or cancelled save leaves the
// previous file as it was.
#include "bonsai/provenance.h"
#include "bonsai/recipe.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class JobRunner;

class RecipeSaver : public QObject {
    Q_OBJECT
public:
    explicit RecipeSaver(QObject* parent = nullptr);
    ~RecipeSaver() override; // cancels and waits for the worker

    JobRunner* runner() const { return m_runner; }

    // Writes `recipe` to `path` with the provenance of `model` and `calibration`; `done` runs
    // on this object's thread with the provenance written. Failure and cancellation come as
    // the runner's failed() / cancelled().
    quint64 start(std::shared_ptr<const bonsai::Model> model, bonsai::Recipe recipe,
                  std::vector<bonsai::ProvenanceCalibration> calibration, const QString& path,
                  std::function<void(const bonsai::Provenance&)> done);
    void cancel();
    bool isBusy() const;

private:
    JobRunner* m_runner;
};

} // namespace bonsai::ui
