#include "configtext.h"

#include "bonsai/describe.h"

#include <QCoreApplication>

namespace bonsai::ui {

static QString tr(const char* s) { return QCoreApplication::translate("ConfigText", s); }

QStringList precisionNames()
{
    QStringList out;
    for (const char* n : {"fp32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "int6", "int5", "int4",
                          "int3", "int2", "nf4", "q8_0", "q6_k", "q5_k", "q5_0", "q5_1", "q4_k", "q4_0", "q4_1",
                          "q3_k", "q2_k"})
        out << QString::fromLatin1(n);
    return out;
}

QString precisionLabel(const QString& name)
{
    return name == QLatin1String("fp32") ? tr("unchanged") : name;
}

QString precisionText(const bonsai::LayerConfig& c)
{
    return QString::fromStdString(bonsai::shortPrecision(c));
}

QString sparsityText(const bonsai::LayerConfig& c)
{
    return QString::fromStdString(bonsai::shortSparsity(c));
}

QString rankText(const bonsai::LayerConfig& c)
{
    return QString::fromStdString(bonsai::shortRank(c));
}

QString precisionHelp(const QString& name)
{
    if (name == QLatin1String("fp32"))
        return tr("Unchanged: the weights keep the precision they have in the file (an FP16 "
                  "checkpoint stays 16 bits per weight). No error, no saving.");
    if (name == QLatin1String("fp16") || name == QLatin1String("bf16"))
        return tr("16-bit floats: half of FP32. FP16 has more mantissa bits (precision), BF16 "
                  "FP32's exponent range (no overflow). Errors are tiny for almost every model.");
    if (name.startsWith(QLatin1String("fp8")))
        return tr("8-bit floats with a scale per tensor or channel: E4M3 has more precision, E5M2 "
                  "more range. Native on NVIDIA Hopper/Ada and recent accelerators.");
    if (name == QLatin1String("nf4"))
        return tr("NF4 (NormalFloat4, from QLoRA): 16 levels placed at the quantiles of a normal "
                  "distribution, with an absmax scale per block of 64. Matches bell-shaped weights "
                  "better than evenly spaced INT4 levels at the same 4 bits.");
    if (name.startsWith(QLatin1String("int")))
        return tr("Integers: each weight is rounded to one of 2^bits evenly spaced levels, w ≈ "
                  "scale × q. INT8 is nearly lossless; INT4 needs small groups (or clipping) so that "
                  "one outlier does not stretch the grid for every other weight.");
    return tr("A llama.cpp (GGUF) block format: blocks of 32 (or super-blocks of 256 for the K "
              "types) with their own scales. Q8_0 ≈ 8.5 bits, Q4_K ≈ 4.5, Q3_K ≈ 3.4, Q2_K ≈ 2.6 bits "
              "per weight.");
}

QList<bonsai::QuantMethod> quantMethods()
{
    return {bonsai::QuantMethod::RTN, bonsai::QuantMethod::GPTQ, bonsai::QuantMethod::AWQ};
}

QString methodLabel(bonsai::QuantMethod m)
{
    switch (m) {
    case bonsai::QuantMethod::RTN: return tr("Round to nearest");
    case bonsai::QuantMethod::GPTQ: return tr("GPTQ (calibrated)");
    case bonsai::QuantMethod::AWQ: return tr("AWQ (calibrated)");
    }
    return {};
}

QString methodHelp(bonsai::QuantMethod m)
{
    switch (m) {
    case bonsai::QuantMethod::RTN:
        return tr("Round to nearest: every weight goes to its closest level on its own. Fast, needs "
                  "no data.");
    case bonsai::QuantMethod::GPTQ:
        return tr("GPTQ rounds one input column at a time and nudges the columns not yet rounded to "
                  "cancel the error on real layer inputs. Needs calibration data; same storage as "
                  "round-to-nearest.");
    case bonsai::QuantMethod::AWQ:
        return tr("AWQ (activation-aware) scales up the input channels that see large activations "
                  "before rounding, so the weights that matter most lose the least. Needs calibration "
                  "data; same storage as round-to-nearest.");
    }
    return {};
}

QString helpText(Topic topic)
{
    switch (topic) {
    case Topic::Overview:
        return tr("<b>Compression editor.</b> Choose per layer how to store its weights: fewer bits "
                  "(precision), fewer weights (sparsity) or a product of two thin matrices (low rank). "
                  "Select several rows to change them together. Hover a control to read what it does.");
    case Topic::Precision:
        return tr("<b>Precision</b> — how many bits each stored weight gets. Fewer bits shrink the model "
                  "and speed up memory-bound inference, at the price of rounding error.");
    case Topic::Granularity:
        return tr("<b>Granularity</b> — how many weights share one scale. <i>Per tensor</i>: one scale, "
                  "an outlier anywhere coarsens the whole grid. <i>Per channel</i>: one per output row. "
                  "<i>Group</i>: one per group of consecutive weights, which keeps outliers local; this is "
                  "why group-wise INT4 works (cost: one 16-bit scale per group, 0.125 bit/weight at 128).");
    case Topic::GroupSize:
        return tr("<b>Group size</b> — weights per scale in group mode. Smaller groups follow the data "
                  "more closely (less error) but store more scales (more bits per weight).");
    case Topic::Symmetric:
        return tr("<b>Symmetric</b> — the grid is centred on zero (scale only). Asymmetric adds a zero "
                  "point so a skewed range uses all levels; it costs a little extra storage.");
    case Topic::ClipSearch:
        return tr("<b>Clip search</b> — tries shrinking the range (clipping the largest weights) and keeps "
                  "the clip with the smallest error: a few outliers are clipped, everything else gets a "
                  "finer grid. Slower to compute, same storage.");
    case Topic::Method:
        return tr("<b>Method</b> — how the integer levels are chosen. <i>Round to nearest</i>: each "
                  "weight on its own. <i>GPTQ</i>: column by column, later columns correct the rounding "
                  "error of earlier ones as seen on real inputs. <i>AWQ</i>: input channels with large "
                  "activations are scaled up before rounding so they lose less. GPTQ and AWQ run the "
                  "model on calibration data (Evaluate or Perplexity); the file is the same size as with "
                  "round-to-nearest. The preview has no data and shows round-to-nearest.");
    case Topic::ActOrder:
        return tr("<b>Act-order</b> (GPTQ) — rounds the columns whose inputs are largest first, while "
                  "there are still many columns left to absorb their error. Often helps at 3–4 bits; "
                  "same storage.");
    case Topic::Damping:
        return tr("<b>Damping</b> (GPTQ) — adds this fraction of the average input energy to the "
                  "diagonal of the input statistics before inverting them. Larger is more stable, "
                  "smaller follows the calibration data more closely; 0.01 is the usual value.");
    case Topic::Calibration:
        return tr("<b>Calibration</b> (GPTQ, AWQ) — how much data the layer sees: images or samples "
                  "for a classifier, chunks of text for a language model. More is steadier and slower; "
                  "32 is usually enough.");
    case Topic::Sparsity:
        return tr("<b>Sparsity</b> — the fraction of weights set to zero (smallest magnitudes first). "
                  "Stored as a bitmask plus the kept values, so it only saves storage at high sparsity "
                  "or when combined with fewer bits.");
    case Topic::Pattern:
        return tr("<b>Pattern</b> — <i>unstructured</i>: any weights, lowest error, hard to speed up. "
                  "<i>2:4</i>: two of every four weights are zero (50%); sparse tensor cores on NVIDIA "
                  "Ampere and newer run such matmuls up to ~2× faster. <i>4:8</i>: the same density with "
                  "more freedom. <i>channels</i>: removes whole output rows, a genuinely smaller dense layer.");
    case Topic::Scope:
        return tr("<b>Scope</b> — <i>layer</i>: each layer prunes its own fraction. <i>global</i>: one "
                  "magnitude threshold over all layers with the same setting, so layers with many small "
                  "weights lose more. The preview prunes this layer alone; the model totals use the "
                  "shared threshold.");
    case Topic::Rank:
        return tr("<b>Low rank</b> — replaces the m × n matrix by U (m × r) times V (r × n), keeping the r "
                  "largest singular values (the best rank-r approximation). It stores r(m + n) values "
                  "instead of mn, so it only saves below r < mn / (m + n). The curve shows how much of "
                  "the weight's energy (squared Frobenius norm) the first r directions hold.");
    case Topic::Energy:
        return tr("<b>Energy</b> — choose the rank by the share of energy to keep (e.g. 95%) instead of a "
                  "number: each layer then gets the smallest rank that keeps it.");
    case Topic::Preview:
        return tr("<b>Preview</b> — the selected layer compressed with these settings by the same engine "
                  "as <tt>bonsai-cli compress</tt>. Relative error ‖W − Ŵ‖/‖W‖ and SQNR (dB, higher is "
                  "better) measure the damage; cosine is 1 when the direction is kept exactly.");
    case Topic::ModelChart:
        return tr("<b>Model size</b> — original and compressed bytes of the largest layers and the whole "
                  "model (tensors that are not layers, e.g. norms, stay as they are).");
    }
    return {};
}

} // namespace bonsai::ui

namespace bonsai::ui {

bool parseSparsity(const QString& input, bonsai::LayerConfig& c)
{
    const QString text = input.trimmed().toLower();
    if (text.isEmpty() || text == QStringLiteral("—") || text == QStringLiteral("-") || text == QStringLiteral("0") ||
        text == QStringLiteral("0%")) {
        c.sparsity = 0;
        c.pattern = bonsai::SparsityPattern::Unstructured;
        return true;
    }
    if (const qsizetype colon = text.indexOf(QLatin1Char(':')); colon > 0) {
        bool okN = false, okM = false;
        const int n = text.left(colon).toInt(&okN), m = text.mid(colon + 1).toInt(&okM);
        if (!okN || !okM || n < 1 || m < 2 || n >= m || m > 64)
            return false;
        c.pattern = bonsai::SparsityPattern::NM;
        c.n = n;
        c.m = m;
        c.sparsity = 0;
        return true;
    }
    const qsizetype pct = text.indexOf(QLatin1Char('%'));
    bool ok = false;
    const double v = (pct >= 0 ? text.left(pct) : text.section(QLatin1Char(' '), 0, 0)).toDouble(&ok);
    if (!ok || v < 0 || v >= 100)
        return false;
    c.sparsity = pct >= 0 || v >= 1 ? v / 100 : v;
    c.pattern = text.contains(QStringLiteral("channel")) ? bonsai::SparsityPattern::Channels
                                                         : bonsai::SparsityPattern::Unstructured;
    if (text.contains(QStringLiteral("global")))
        c.scope = bonsai::SparsityScope::Global;
    else if (c.pattern == bonsai::SparsityPattern::Channels)
        c.scope = bonsai::SparsityScope::Layer;
    return true;
}

} // namespace bonsai::ui
