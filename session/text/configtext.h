#pragma once
// Short display texts of a LayerConfig for tables and combos, and the sentences that explain
// each technique to a student (tooltips and the inspector's help pane).
#include "bonsai/layer_config.h"

#include <QString>
#include <QStringList>

namespace bonsai::ui {

// Recipe precision names in menu order (fp32 first: "unchanged").
QStringList precisionNames();
QString precisionLabel(const QString& name);  // "fp32" -> "unchanged", else the name
QString precisionText(const bonsai::LayerConfig& c); // table cell, e.g. "int4 g128"
QString sparsityText(const bonsai::LayerConfig& c);  // "—", "50%" (unstructured), "2:4", "30% channels"
QString rankText(const bonsai::LayerConfig& c);      // "—", "16", "95% energy"

// Help for a precision name, and for each control of the inspector.
QString precisionHelp(const QString& name);
// Integer quantization methods in menu order, their combo labels ("Round to nearest",
// "GPTQ (calibrated)", ...) and one tooltip each.
QList<bonsai::QuantMethod> quantMethods();
QString methodLabel(bonsai::QuantMethod m);
QString methodHelp(bonsai::QuantMethod m);
enum class Topic {
    Overview, Precision, Granularity, GroupSize, Symmetric, ClipSearch,
    Method, ActOrder, Damping, Calibration,
    Sparsity, Pattern, Scope, Rank, Energy, Preview, ModelChart
};
QString helpText(Topic topic);

} // namespace bonsai::ui

namespace bonsai::ui {
// Parses what sparsityText() shows (and "0", "2:4", "50%", "30% channels"); changes only the
// sparsity fields of `c`. False for text it does not understand.
bool parseSparsity(const QString& text, bonsai::LayerConfig& c);
} // namespace bonsai::ui
