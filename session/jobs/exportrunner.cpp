#include "exportrunner.h"

#include "jobrunner.h"

#include "formatting.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

namespace bonsai::ui {

ExportRunner::ExportRunner(QObject* parent)
    : QObject(parent), m_runner(new JobRunner(this)), m_predictor(std::make_shared<ExportPredictor>())
{
}

ExportRunner::~ExportRunner() { m_runner->cancel(); }

namespace {

struct Checked {
    bonsai::ExportPlan plan;
    QString error;
};

} // namespace

quint64 ExportRunner::check(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                            bonsai::ExportFormat format, bonsai::ExportOptions options,
                            std::function<void(const bonsai::ExportPlan&, const QString&)> done)
{
    return m_runner->start<Checked>(
        tr("Checking the export"),
        [model = std::move(model), configs = std::move(configs), format, options](JobControl&) {
            Checked c;
            try {
                c.plan = bonsai::planExport(*model, configs, format, options);
            } catch (const std::exception& e) {
                c.error = errorText(e, QString::fromStdString(model->path));
            }
            return c;
        },
        this, [done = std::move(done)](const Checked& c) { done(c.plan, c.error); });
}

quint64 ExportRunner::predict(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                              ExportPredictionData data, std::function<void(const ExportPrediction&)> done)
{
    return m_runner->start<ExportPrediction>(
        tr("Predicting the exported model's quality"),
        [model = std::move(model), configs = std::move(configs), data = std::move(data),
         predictor = m_predictor](JobControl& c) {
            return predictor->predict(model, configs, data, [&c](double f) { return c.progress(f); });
        },
        this, std::move(done));
}

quint64 ExportRunner::start(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                            bonsai::ExportFormat format, const QString& path, bonsai::ExportOptions options,
                            std::function<void(const bonsai::ExportPlan&)> done)
{
    const std::string out = path.toStdString();
    return m_runner->start<bonsai::ExportPlan>(
        tr("Exporting %1").arg(path),
        [model = std::move(model), configs = std::move(configs), format, out, options](JobControl& c) {
            return bonsai::exportModel(*model, configs, format, out, options,
                                       [&c](double f) { return c.progress(f); });
        },
        this, std::move(done));
}

void ExportRunner::cancel() { m_runner->cancel(); }

} // namespace bonsai::ui
