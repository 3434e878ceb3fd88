#include "modelloader.h"

#include "bonsai/model.h"

#include <QThread>
#include <QtConcurrent/QtConcurrentRun>

namespace bonsai::ui {

ModelLoader::ModelLoader(QObject* parent) : QObject(parent) {}

ModelLoader::~ModelLoader()
{
    m_pending.waitForFinished(); // opening cannot be interrupted, but it is short
}

void ModelLoader::open(const QString& path)
{
    Q_ASSERT(QThread::currentThread() == thread());
    const quint64 gen = ++m_generation;
    m_busy = true;
    auto job = [gen, path]() {
        Outcome out;
        out.generation = gen;
        out.path = path;
        try {
            out.model = bonsai::Model::open(path.toStdString());
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        } catch (...) {
            out.error = path + QStringLiteral(": unknown error");
        }
        return out;
    };
    m_pending = QtConcurrent::run(job).then(this, [this](const Outcome& o) {
        if (o.generation != m_generation)
            return; // a newer request is on its way
        m_busy = false;
        if (o.model)
            emit loaded(o.model, o.path);
        else
            emit failed(o.path, o.error);
    });
}

} // namespace bonsai::ui
