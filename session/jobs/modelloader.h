#pragma once
// Opens model files off the GUI thread. Only the newest open request reports back
// (JobTracker): an earlier one's model or error is dropped.
#include "jobtracker.h"

#include <QObject>
#include <QString>

#include <memory>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class ModelLoader : public QObject {
    Q_OBJECT
public:
    explicit ModelLoader(QObject* parent = nullptr);
    ~ModelLoader() override;

    void open(const QString& path);
    bool isBusy() const { return m_jobs.isBusy(); }

signals:
    void loaded(std::shared_ptr<const bonsai::Model> model, const QString& path);
    void failed(const QString& path, const QString& message);

private:
    struct Outcome {
        JobTracker::Id id = 0;
        QString path;
        std::shared_ptr<const bonsai::Model> model;
        QString error;
    };

    JobTracker m_jobs{this}; // opens one file at a time
};

} // namespace bonsai::ui
