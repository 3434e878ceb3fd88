#include "previewrunner.h"

#include "formatting.h"

#include "bonsai/model.h"

#include <QThread>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

PreviewRunner::PreviewRunner(QObject* parent) : QObject(parent) {}

PreviewRunner::~PreviewRunner() { m_jobs.waitForIdle(); }

void PreviewRunner::setModel(std::shared_ptr<const bonsai::Model> model)
{
    clear();
    m_model = std::move(model);
    m_rankCache = std::make_shared<bonsai::RankCache>(); // jobs run one at a time: no sharing
}

void PreviewRunner::clear()
{
    m_pending.reset();
    m_wantedLayer = -1;
    m_jobs.cancel(); // a running job's result is now stale
}

void PreviewRunner::request(int layer, const bonsai::LayerConfig& config)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (!m_model || layer < 0 || static_cast<size_t>(layer) >= m_model->layers.size())
        return;
    m_wantedLayer = layer;
    m_pending = Request{layer, config};
    if (!m_running)
        startNext();
}

static std::vector<uint64_t> histogram(const std::vector<float>& v, double lo, double hi, int bins)
{
    std::vector<uint64_t> h(static_cast<size_t>(bins), 0);
    const double scale = hi > lo ? bins / (hi - lo) : 0;
    for (float x : v) {
        if (!std::isfinite(x))
            continue;
        const auto b = static_cast<long>(std::floor((x - lo) * scale));
        ++h[static_cast<size_t>(std::clamp<long>(b, 0, bins - 1))];
    }
    return h;
}

PreviewResult PreviewRunner::compute(const bonsai::Model& model, int layer, const bonsai::LayerConfig& config,
                                     bonsai::RankCache* rankCache)
{
    PreviewResult out;
    out.layer = layer;
    try {
        std::vector<float> reconstructed;
        out.result = bonsai::compressLayer(model, layer, config, &reconstructed, nullptr, rankCache);
        const std::vector<float> original = model.readFloat(model.layers.at(static_cast<size_t>(layer)).weight);
        double lo = INFINITY, hi = -INFINITY;
        for (float x : original)
            if (std::isfinite(x)) {
                lo = std::min<double>(lo, x);
                hi = std::max<double>(hi, x);
            }
        if (!(lo <= hi))
            lo = hi = 0;
        if (hi <= lo) // the same widening as the statistics histogram
            hi = lo + std::max(1e-6, std::abs(lo) * 1e-3);
        out.lo = lo;
        out.hi = hi;
        out.original = histogram(original, lo, hi, Bins);
        out.compressed = histogram(reconstructed, lo, hi, Bins);
    } catch (const std::exception& e) {
        out.error = errorText(e);
    }
    return out;
}

void PreviewRunner::startNext()
{
    if (!m_pending)
        return;
    const Request req = *m_pending;
    m_pending.reset();
    m_running = true;
    const JobTracker::Id id = m_jobs.start();
    emit started(req.layer);
    auto model = m_model;
    m_jobs.run([model, req, cache = m_rankCache] { return compute(*model, req.layer, req.config, cache.get()); },
               [this, id](const PreviewResult& r) {
                   m_running = false;
                   const bool current = m_jobs.finish(id) && r.layer == m_wantedLayer;
                   if (current)
                       emit finished(r);
                   startNext(); // the newest request made while this one ran
               });
}

} // namespace bonsai::ui
