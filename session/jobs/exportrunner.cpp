#include "exportrunner.h"

#include "jobrunner.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

namespace bonsai::ui {

ExportRunner::ExportRunner(QObject* parent)
    : QObject(parent), m_runner(new JobRunner(this)), m_predictor(std::make_shared<ExportPredictor>())
{
}

ExportRunner::~ExportRunner() { m_runner->cancel(); }

quint64 ExportRunner::check(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                            bonsai::ExportFormat format, bonsai::ExportOptions options, ExportPredictionData data,
                            std::function<void(const bonsai::ExportPlan&, const QString&)> planned,
                            std::function<void(const ExportPrediction&)> predicted)
{
    return m_runner->start<ExportPrediction>(
        tr("Checking the export"),
        [model = std::move(model), configs = std::move(configs), format, options, data = std::move(data),
         predictor = m_predictor, planned = std::move(planned)](JobControl& c) {
            bonsai::ExportPlan plan;
            QString error;
            try {
                plan = bonsai::planExport(*model, configs, format, options);
            } catch (const bonsai::Error& e) {
                error = QString::fromStdString(e.what());
            } catch (const std::exception& e) {
                error = QStringLiteral("%1: %2").arg(QString::fromStdString(model->path), QString::fromStdString(e.what()));
            }
            c.post([planned, plan, error] { planned(plan, error); });
            if (!error.isEmpty())
                return ExportPrediction{};
            if (!plan.writable()) {
                ExportPrediction none;
                none.hint = tr("No prediction while a tensor cannot be stored: the export would be refused.");
                return none;
            }
            return predictor->predict(model, plan.configs, data, [&c](double f) { return c.progress(f); });
        },
        this, std::move(predicted));
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
