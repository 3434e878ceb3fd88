#include "recipesaver.h"

#include "jobrunner.h"

#include "bonsai/model.h"

namespace bonsai::ui {

RecipeSaver::RecipeSaver(QObject* parent) : QObject(parent), m_runner(new JobRunner(this)) {}

RecipeSaver::~RecipeSaver() { m_runner->cancel(); }

quint64 RecipeSaver::start(std::shared_ptr<const bonsai::Model> model, bonsai::Recipe recipe,
                           std::vector<bonsai::ProvenanceCalibration> calibration, const QString& path,
                           std::function<void(const bonsai::Provenance&)> done)
{
    return m_runner->start<bonsai::Provenance>(
        tr("Saving %1").arg(path),
        [model = std::move(model), recipe = std::move(recipe), calibration = std::move(calibration),
         out = path.toStdString()](JobControl& c) mutable {
            const bonsai::Provenance p =
                bonsai::makeProvenance(*model, calibration, true, [&c](double f) { return c.progress(f); });
            recipe.provenance = p.toJson();
            if (!c.progress(1))
                throw bonsai::Cancelled();
            recipe.save(out);
            return p;
        },
        this, std::move(done));
}

void RecipeSaver::cancel() { m_runner->cancel(); }

bool RecipeSaver::isBusy() const { return m_runner->isBusy(); }

} // namespace bonsai::ui
