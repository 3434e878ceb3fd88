#include "compressiondocument.h"

#include "setconfigscommand.h"

#include "formatting.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <QFileInfo>
#include <QUndoStack>

#include <regex>

namespace bonsai::ui {

static const bonsai::LayerConfig NoCompression{};

CompressionDocument::CompressionDocument(QObject* parent)
    : QObject(parent), m_undo(new QUndoStack(this))
{
    connect(m_undo, &QUndoStack::cleanChanged, this,
            [this](bool clean) { emit modifiedChanged(!clean); });
}

void CompressionDocument::setModel(std::shared_ptr<const bonsai::Model> model)
{
    const bool wasModified = isModified();
    m_undo->clear();
    m_model = std::move(model);
    m_configs.assign(m_model ? m_model->layers.size() : 0, bonsai::LayerConfig{});
    m_error.clear();
    m_warnings.clear();
    if (!m_recipePath.isEmpty()) {
        m_recipePath.clear();
        emit recipePathChanged(m_recipePath);
    }
    emit modelReset();
    if (wasModified)
        emit modifiedChanged(false);
}

const bonsai::LayerConfig& CompressionDocument::config(int layer) const
{
    if (layer < 0 || layer >= layerCount())
        return NoCompression;
    return m_configs[static_cast<size_t>(layer)];
}

QString CompressionDocument::layerName(int layer) const
{
    if (!m_model || layer < 0 || static_cast<size_t>(layer) >= m_model->layers.size())
        return {};
    return QString::fromStdString(m_model->layers[static_cast<size_t>(layer)].name);
}

bool CompressionDocument::isModified() const { return !m_undo->isClean(); }

bool CompressionDocument::edit(const QList<int>& layers,
                               const std::function<void(bonsai::LayerConfig&)>& fn,
                               const QString& text, int mergeKey)
{
    std::vector<bonsai::LayerConfig> after;
    after.reserve(static_cast<size_t>(layers.size()));
    for (int l : layers) {
        bonsai::LayerConfig c = config(l);
        fn(c);
        after.push_back(c);
    }
    return setConfigs(layers, after, text, mergeKey);
}

bool CompressionDocument::setConfigs(const QList<int>& layers,
                                     const std::vector<bonsai::LayerConfig>& configs,
                                     const QString& text, int mergeKey)
{
    QList<int> changed;
    std::vector<bonsai::LayerConfig> before, after;
    for (qsizetype i = 0; i < layers.size() && static_cast<size_t>(i) < configs.size(); ++i) {
        const int l = layers[i];
        if (l < 0 || l >= layerCount() || changed.contains(l))
            continue;
        if (config(l) == configs[static_cast<size_t>(i)] && mergeKey == NoMerge)
            continue;
        changed << l;
        before.push_back(config(l));
        after.push_back(configs[static_cast<size_t>(i)]);
    }
    if (changed.isEmpty() || before == after)
        return false;
    m_undo->push(new SetConfigsCommand(this, changed, std::move(before), std::move(after), text,
                                       mergeKey, m_dragSession));
    return true;
}

void CompressionDocument::assign(const QList<int>& layers, const std::vector<bonsai::LayerConfig>& configs)
{
    for (qsizetype i = 0; i < layers.size(); ++i)
        m_configs[static_cast<size_t>(layers[i])] = configs[static_cast<size_t>(i)];
    emit configChanged(layers);
}

QList<int> CompressionDocument::layersMatching(const QString& pattern, QString* error) const
{
    QList<int> out;
    try {
        const std::regex re(pattern.toStdString(), std::regex::ECMAScript);
        for (int i = 0; i < layerCount(); ++i)
            if (std::regex_search(m_model->layers[static_cast<size_t>(i)].name, re))
                out << i;
    } catch (const std::regex_error& e) {
        if (error)
            *error = tr("Not a valid regular expression: %1").arg(QString::fromUtf8(e.what()));
    }
    return out;
}

bool CompressionDocument::applyRecipe(const bonsai::Recipe& recipe, const QString& text)
{
    if (!m_model)
        return false;
    std::vector<bonsai::LayerConfig> configs;
    try {
        configs = bonsai::resolveConfigs(*m_model, recipe);
        m_warnings.clear();
        for (const auto& w : recipe.warnings(*m_model))
            m_warnings << QString::fromStdString(w);
    } catch (const std::exception& e) {
        m_error = errorText(e);
        return false;
    }
    QList<int> all;
    for (int i = 0; i < layerCount(); ++i)
        all << i;
    setConfigs(all, configs, text);
    return true;
}

bool CompressionDocument::loadRecipe(const QString& path)
{
    m_error.clear();
    try {
        const bonsai::Recipe recipe = bonsai::Recipe::load(path.toStdString());
        if (!applyRecipe(recipe, tr("Open Recipe %1").arg(QFileInfo(path).fileName())))
            return false;
    } catch (const std::exception& e) {
        m_error = errorText(e, path); // the core's message names the file and key
        return false;
    }
    endDrag();
    m_undo->setClean();
    m_recipePath = path;
    emit recipePathChanged(path);
    return true;
}

bonsai::LayerConfig CompressionDocument::mostCommonConfig() const
{
    // The most frequent configuration becomes the recipe's defaults (fewest rules).
    bonsai::LayerConfig best{};
    size_t bestCount = 0;
    std::vector<bool> counted(m_configs.size(), false);
    for (size_t i = 0; i < m_configs.size(); ++i) {
        if (counted[i])
            continue;
        size_t n = 0;
        for (size_t j = i; j < m_configs.size(); ++j)
            if (!counted[j] && m_configs[j] == m_configs[i]) {
                counted[j] = true;
                ++n;
            }
        if (n > bestCount) {
            bestCount = n;
            best = m_configs[i];
        }
    }
    return best;
}

bonsai::Recipe CompressionDocument::toRecipe() const
{
    std::vector<std::string> names;
    if (m_model)
        for (const auto& l : m_model->layers)
            names.push_back(l.name);
    return bonsai::Recipe::fromConfigs(names, m_configs, mostCommonConfig());
}

int CompressionDocument::saveState() const { return m_undo->index(); }

void CompressionDocument::markSaved(const QString& path, int state)
{
    endDrag();
    if (m_undo->index() == state)
        m_undo->setClean();
    if (m_recipePath != path) {
        m_recipePath = path;
        emit recipePathChanged(path);
    }
}

bool CompressionDocument::saveRecipe(const QString& path)
{
    m_error.clear();
    if (!m_model) {
        m_error = tr("No model is open.");
        return false;
    }
    try {
        toRecipe().save(path.toStdString());
    } catch (const std::exception& e) {
        m_error = errorText(e, path, "to save");
        return false;
    }
    markSaved(path, saveState());
    return true;
}

} // namespace bonsai::ui
