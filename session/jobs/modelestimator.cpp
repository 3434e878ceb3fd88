#include "modelestimator.h"

#include "compressiondocument.h"

#include "formatting.h"

#include "bonsai/model.h"

#include <QElapsedTimer>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

// What compressLayer() returns for a configuration that changes nothing, without reading the
// weights (a large checkpoint opens with every layer unchanged).
static bonsai::LayerResult identityResult(const bonsai::Model& model, size_t i, const bonsai::LayerConfig& c)
{
    const auto& layer = model.layers[i];
    const auto& t = model.tensors[static_cast<size_t>(layer.weight)];
    bonsai::LayerResult r;
    r.layer = static_cast<int>(i);
    r.name = layer.name;
    r.config = c;
    r.params = r.keptValues = t.numel;
    r.originalBits = r.compressedBits = t.storedBytes() * 8;
    if (layer.bias >= 0)
        r.biasBits = model.tensors[static_cast<size_t>(layer.bias)].storedBytes() * 8;
    r.error.relFrobenius = 0;
    r.error.sqnrDb = INFINITY;
    r.error.cosine = 1;
    r.error.maxAbsError = 0;
    return r;
}

static bool hasGlobalSparsity(const std::vector<bonsai::LayerConfig>& configs)
{
    for (const auto& c : configs)
        if (c.scope == bonsai::SparsityScope::Global && c.pattern == bonsai::SparsityPattern::Unstructured &&
            c.sparsity > 0)
            return true;
    return false;
}

ModelEstimator::ModelEstimator(CompressionDocument* doc, QObject* parent)
    : QObject(parent), m_doc(doc)
{
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(DebounceMs);
    connect(&m_debounce, &QTimer::timeout, this, &ModelEstimator::startNow);
    connect(doc, &CompressionDocument::configChanged, this, &ModelEstimator::schedule);
    connect(doc, &CompressionDocument::modelReset, this, [this] {
        m_jobs.cancel();
        m_results.assign(static_cast<size_t>(m_doc->layerCount()), std::nullopt);
        m_errors.assign(static_cast<size_t>(m_doc->layerCount()), QString());
        m_memo.assign(static_cast<size_t>(m_doc->layerCount()), {});
        m_complete = false;
        emit resultsChanged();
        schedule();
    });
}

ModelEstimator::~ModelEstimator()
{
    m_jobs.cancel();
    m_jobs.waitForIdle();
}

void ModelEstimator::schedule()
{
    m_jobs.cancel(); // the running job stops at its next layer
    m_complete = false;
    bool found = false; // some remembered: the job takes them as cached
    if (recall(found)) { // every layer's result remembered: nothing to compute
        m_debounce.stop();
        m_complete = true;
        emit resultsChanged();
        return;
    }
    // Some remembered: they count as cached for the job, which delivers them with the rest
    // (one update of the table and charts, not two).
    m_debounce.start();
}

void ModelEstimator::remember(const bonsai::LayerResult& r, size_t layer)
{
    if (layer >= m_memo.size())
        return;
    auto& memo = m_memo[layer];
    memo.erase(std::remove_if(memo.begin(), memo.end(), [&](const auto& m) { return m.config == r.config; }),
               memo.end());
    memo.insert(memo.begin(), r);
    if (memo.size() > MemoPerLayer)
        memo.pop_back();
}

bool ModelEstimator::recall(bool& found)
{
    found = false;
    const int n = m_doc->layerCount();
    if (!m_doc->model() || m_results.size() != size_t(n) || hasGlobalSparsity(m_doc->configs()))
        return false;
    bool all = true;
    for (int i = 0; i < n; ++i) {
        if (isCurrent(i))
            continue;
        const auto& memo = m_memo[size_t(i)];
        const auto it = std::find_if(memo.begin(), memo.end(), [&](const auto& m) { return m.config == m_doc->config(i); });
        if (it != memo.end()) {
            m_results[size_t(i)] = *it;
            m_errors[size_t(i)].clear();
            found = true;
        } else {
            all = false;
        }
    }
    return all;
}

bool ModelEstimator::isCurrent(int layer) const
{
    if (layer < 0 || static_cast<size_t>(layer) >= m_results.size())
        return false;
    const auto& r = m_results[static_cast<size_t>(layer)];
    return r && r->config == m_doc->config(layer);
}

const bonsai::LayerResult* ModelEstimator::result(int layer) const
{
    return isCurrent(layer) ? &*m_results[static_cast<size_t>(layer)] : nullptr;
}

QString ModelEstimator::error(int layer) const
{
    if (layer < 0 || static_cast<size_t>(layer) >= m_errors.size())
        return {};
    return m_errors[static_cast<size_t>(layer)];
}

uint64_t ModelEstimator::originalBytes() const
{
    return m_doc->model() ? m_doc->model()->totalBytes() : 0;
}

uint64_t ModelEstimator::compressedBytes() const
{
    // As compressModel() counts: every layer's weight rounded up to whole bytes.
    const auto& model = m_doc->model();
    if (!model)
        return 0;
    uint64_t total = model->totalBytes();
    for (size_t i = 0; i < m_results.size(); ++i) {
        if (!m_results[i])
            continue;
        total -= model->tensors[static_cast<size_t>(model->layers[i].weight)].storedBytes();
        total += (m_results[i]->compressedBits + 7) / 8;
    }
    return total;
}

void ModelEstimator::startNow()
{
    m_debounce.stop();
    const auto model = m_doc->model();
    if (!model)
        return;
    const JobTracker::Id id = m_jobs.start();
    const std::vector<bonsai::LayerConfig> configs = m_doc->configs();
    auto cache = m_results;
    const bool global = hasGlobalSparsity(configs);
    emit started();
    auto job = [this, model, configs, cache = std::move(cache), global, id, cancelled = m_jobs.cancelCheck(id)]() {
        Outcome out;
        out.id = id;
        out.global = global;
        out.results.resize(configs.size());
        out.errors.resize(configs.size());
        QElapsedTimer clock;
        clock.start();
        auto report = [&](double f) {
            if (cancelled())
                return false;
            if (clock.elapsed() >= 100) { // throttled; `this` outlives the job (destructor waits)
                clock.restart();
                m_jobs.post(id, [this, f] { emit progress(f); });
            }
            return true;
        };
        try {
            if (global) {
                bonsai::ModelResult all = bonsai::compressModel(*model, configs, report);
                for (size_t i = 0; i < all.layers.size(); ++i)
                    out.results[i] = std::move(all.layers[i]);
                return out;
            }
            for (size_t i = 0; i < configs.size(); ++i) {
                bonsai::reportProgress(report, static_cast<double>(i) / static_cast<double>(configs.size()));
                if (i < cache.size() && cache[i] && cache[i]->config == configs[i]) {
                    out.results[i] = cache[i];
                    continue;
                }
                if (configs[i].isIdentity()) {
                    out.results[i] = identityResult(*model, i, configs[i]);
                    continue;
                }
                try {
                    out.results[i] = bonsai::compressLayer(*model, static_cast<int>(i), configs[i]);
                } catch (const bonsai::Cancelled&) {
                    throw;
                } catch (const std::exception& e) {
                    out.errors[i] = errorText(e);
                }
            }
        } catch (const bonsai::Cancelled&) {
            out.cancelled = true;
        } catch (const std::exception& e) {
            for (auto& err : out.errors)
                err = errorText(e);
        }
        return out;
    };
    m_jobs.run(job, [this](const Outcome& o) { onDone(o); });
}

void ModelEstimator::onDone(const Outcome& o)
{
    const bool current = m_jobs.finish(o.id);
    if (!o.global) // valid for their configurations, even from a superseded or cancelled job
        for (size_t i = 0; i < o.results.size(); ++i)
            if (o.results[i])
                remember(*o.results[i], i);
    if (!current || o.cancelled) {
        bool found = false;
        if (recall(found)) { // a cancelled job may have computed what the configuration now needs
            m_complete = true;
            m_debounce.stop();
            emit resultsChanged();
        }
        return;
    }
    m_errors = o.errors;
    bool complete = true;
    for (size_t i = 0; i < o.results.size() && i < m_results.size(); ++i) {
        if (o.results[i])
            m_results[i] = o.results[i];
        complete &= o.results[i].has_value();
    }
    m_complete = complete;
    emit resultsChanged();
}

} // namespace bonsai::ui
