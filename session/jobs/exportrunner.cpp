#include "exportrunner.h"

#include "jobrunner.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

namespace bonsai::ui {

ExportRunner::ExportRunner(QObject* parent) : QObject(parent), m_runner(new JobRunner(this)) {}

ExportRunner::~ExportRunner() { m_runner->cancel(); }

bool ExportRunner::plan(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs,
                        bonsai::ExportFormat format, const bonsai::ExportOptions& options, bonsai::ExportPlan& out,
                        QString& error)
{
    try {
        out = bonsai::planExport(model, configs, format, options);
        return true;
    } catch (const bonsai::Error& e) {
        error = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        error = QStringLiteral("%1: %2").arg(QString::fromStdString(model.path), QString::fromStdString(e.what()));
    }
    return false;
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
