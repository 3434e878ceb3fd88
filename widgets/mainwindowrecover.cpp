// MainWindow: the recovery dock (training runs that win back the accuracy compression costs),
// opened from the Evaluate menu; each completed run becomes its own point on the evaluation
// panel's accuracy-against-size chart, labelled with how it was obtained.
#include "mainwindow.h"

#include "compressiondocument.h"
#include "evalengine.h"
#include "evalpanel.h"
#include "modelestimator.h"
#include "recoverpanel.h"
#include "tradeoffmodel.h"

#include "bonsai/compress.h"

#include <QDockWidget>
#include <QMenu>

#include <algorithm>

namespace bonsai::ui {

void MainWindow::setupRecovery(QMenu* evaluate)
{
    m_recoverPanel = new RecoverPanel(m_doc, this);
    m_recoverDock = new QDockWidget(tr("Recover Accuracy"), this);
    m_recoverDock->setObjectName(QStringLiteral("recoverDock"));
    m_recoverDock->setWidget(m_recoverPanel);
    m_recoverDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                               QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, m_recoverDock);
    tabifyDockWidget(m_evalDock, m_recoverDock);
    m_recoverDock->setVisible(false);

    QAction* open = evaluate->addAction(tr("&Recover Accuracy…"), this, [this] {
        // The evaluation panel's data set (a folder: its train split is used for training).
        if (!m_evalPanel->dataset().trimmed().isEmpty() && !m_recoverPanel->isBusy())
            m_recoverPanel->setTrainData(m_evalPanel->dataset().trimmed());
        m_recoverDock->setVisible(true);
        m_recoverDock->raise();
    });
    open->setStatusTip(tr("Win back accuracy lost to compression by a short training run "
                          "(fine-tuning, QAT, distillation or lottery ticket)"));

    connect(m_recoverPanel, &RecoverPanel::recovered, this,
            [this](const QString& label, const bonsai::RecoverResult& r) {
                const auto& model = m_doc->model();
                if (!model)
                    return;
                TradeoffPoint p;
                p.label = label;
                p.configs = m_recoverPanel->resultConfigs();
                if (r.method == bonsai::RecoverMethod::Lottery && p.configs.size() == model->layers.size()) {
                    // The ticket replaces the recipe's sparsity: each layer is stored with the
                    // mask it ended with (its own fraction of zeros, unstructured).
                    for (size_t i = 0; i < p.configs.size(); ++i) {
                        const auto& name = model->tensors[static_cast<size_t>(model->layers[i].weight)].name;
                        const auto it = r.weights.find(name);
                        if (it == r.weights.end() || it->second.empty())
                            continue;
                        const auto zeros = std::count(it->second.begin(), it->second.end(), 0.0f);
                        p.configs[i].pattern = bonsai::SparsityPattern::Unstructured;
                        p.configs[i].scope = bonsai::SparsityScope::Layer;
                        p.configs[i].sparsity = std::min(0.999999, static_cast<double>(zeros) / static_cast<double>(it->second.size()));
                    }
                    p.result.compressedBytes = bonsai::compressModel(*model, p.configs).compressedBytes; // small models only
                }
                p.details = describeConfigs(*model, p.configs);
                p.result.metrics.top1 = r.accuracyAfter;
                p.result.complete = true;
                p.result.seconds = r.seconds;
                p.result.originalBytes = model->totalBytes();
                if (r.method != bonsai::RecoverMethod::Lottery)
                    p.result.compressedBytes = m_estimator->compressedBytes();
                for (const auto& known : m_evalPanel->tradeoffs()->points())
                    if (known.configs == p.configs) // the evaluator's size for this configuration
                        p.result.compressedBytes = known.result.compressedBytes;
                m_evalPanel->tradeoffs()->add(std::move(p));
            });
}

} // namespace bonsai::ui
