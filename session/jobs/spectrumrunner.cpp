#include "spectrumrunner.h"

#include "formatting.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"


namespace bonsai::ui {

SpectrumRunner::SpectrumRunner(QObject* parent) : QObject(parent) {}

SpectrumRunner::~SpectrumRunner()
{
    m_jobs.cancel(); // queued jobs return at once
    m_jobs.waitForIdle();
}

void SpectrumRunner::setModel(std::shared_ptr<const bonsai::Model> model)
{
    m_jobs.cancel(); // queued jobs of the old model return at once
    m_cache.clear();
    m_model = std::move(model);
}

const bonsai::Spectrum* SpectrumRunner::cached(int layer) const
{
    auto it = m_cache.constFind(layer);
    return it == m_cache.cend() ? nullptr : it->get();
}

void SpectrumRunner::request(int layer)
{
    if (!m_model || layer < 0 || static_cast<size_t>(layer) >= m_model->layers.size())
        return;
    if (auto it = m_cache.constFind(layer); it != m_cache.cend()) {
        m_jobs.cancel(); // a running job for another layer no longer reports
        emit ready(layer, *it);
        return;
    }
    const JobTracker::Id id = m_jobs.start();
    emit started(layer);
    struct Out {
        std::shared_ptr<const bonsai::Spectrum> spectrum;
        QString error;
    };
    auto model = m_model;
    auto job = [model, layer, cancelled = m_jobs.cancelCheck(id)] {
        Out out;
        if (cancelled())
            return out; // stale before it started
        try {
            uint64_t rows = 0, cols = 0;
            const auto w = bonsai::layerMatrix(*model, model->layers.at(static_cast<size_t>(layer)), rows, cols);
            out.spectrum = std::make_shared<const bonsai::Spectrum>(bonsai::singularSpectrum(w.data(), rows, cols, TopK));
        } catch (const std::exception& e) {
            out.error = errorText(e);
        }
        return out;
    };
    m_jobs.run(job, [this, layer, model, id](const Out& out) {
        if (model != m_model)
            return; // another model was opened meanwhile
        if (out.spectrum)
            m_cache.insert(layer, out.spectrum);
        if (!m_jobs.finish(id))
            return;
        if (out.spectrum)
            emit ready(layer, out.spectrum);
        else if (!out.error.isEmpty())
            emit failed(layer, out.error);
    });
}

} // namespace bonsai::ui
