#pragma once
// Opens model files off the GUI thread. Only the newest open request reports back.
#include <QFuture>
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
    bool isBusy() const { return m_busy; }

signals:
    void loaded(std::shared_ptr<const bonsai::Model> model, const QString& path);
    void failed(const QString& path, const QString& message);

private:
    struct Outcome {
        quint64 generation = 0;
        QString path;
        std::shared_ptr<const bonsai::Model> model;
        QString error;
    };

    quint64 m_generation = 0;
    bool m_busy = false;
    QFuture<void> m_pending;
};

} // namespace bonsai::ui
