#include "modelloader.h"

#include "bonsai/model.h"
#include "formatting.h"

#include <QThread>

namespace bonsai::ui {

ModelLoader::ModelLoader(QObject* parent) : QObject(parent) {}

ModelLoader::~ModelLoader()
{
    m_jobs.waitForIdle(); // opening cannot be interrupted, but it is short
}

void ModelLoader::open(const QString& path)
{
    Q_ASSERT(QThread::currentThread() == thread());
    const JobTracker::Id id = m_jobs.start();
    auto job = [id, path]() {
        Outcome out;
        out.id = id;
        out.path = path;
        try {
            out.model = bonsai::Model::open(path.toStdString());
        } catch (const std::exception& e) {
            out.error = errorText(e, path, "to load");
        } catch (...) {
            out.error = path + QStringLiteral(": unknown error");
        }
        return out;
    };
    m_jobs.run(job, [this](const Outcome& o) {
        if (!m_jobs.finish(o.id))
            return; // a newer request is on its way
        if (o.model)
            emit loaded(o.model, o.path);
        else
            emit failed(o.path, o.error);
    });
}

} // namespace bonsai::ui
