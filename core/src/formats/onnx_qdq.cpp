// QDQ weights folded into one tensor each (see foldOnnxDequantize in onnx_model.h).
#include "bonsai/error.h"
#include "formats/onnx_attrs.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <unordered_map>

namespace bonsai {

// Weights stored as QDQ: DequantizeLinear(codes, scale[, zero point]) of initializers,
// optionally followed by a Reshape to a constant shape, and Cast(FLOAT16 initializer, to
// FLOAT), become one tensor named after the weight the graph's nodes read (the executor
// skips the nodes that compute it); the initializers they consumed are no tensors of
// their own any more.
void foldOnnxDequantize(Model& m, const onnx::GraphProto& g, const std::set<std::string>& packed4)
{
    std::unordered_map<std::string, int> byName;
    for (size_t i = 0; i < m.tensors.size(); ++i)
        byName.emplace(m.tensors[i].name, static_cast<int>(i));
    const auto fail = [&](const std::string& fault) { throw FileError(m.path, fault); };
    const auto add = [&](TensorInfo t) {
        if (!byName.emplace(t.name, static_cast<int>(m.tensors.size())).second)
            throw FileError(m.path, "duplicate tensor name '" + t.name + "'");
        m.addTensor(std::move(t));
    };
    std::unordered_map<std::string, int> readers;
    for (const auto& n : g.node())
        for (const auto& in : n.input())
            ++readers[in];
    std::set<std::string> outputs;
    for (const auto& o : g.output())
        outputs.insert(o.name());
    std::set<std::string> consumed;
    auto tensorOf = [&](const std::string& name) -> const TensorInfo* {
        const auto it = byName.find(name);
        return it == byName.end() ? nullptr : &m.tensors[static_cast<size_t>(it->second)];
    };
    auto onlyHere = [&](const std::string& name) { return readers[name] == 1 && !outputs.count(name); };
    for (const auto& n : g.node()) {
        const bool standard = n.domain().empty() || n.domain() == "ai.onnx";
        if (!standard || n.output_size() != 1 || n.output(0).empty() || byName.count(n.output(0)))
            continue;
        const std::string& op = n.op_type();
        if (op == "DequantizeLinear" && n.input_size() >= 2) {
            const TensorInfo* q = tensorOf(n.input(0));
            const TensorInfo* sc = tensorOf(n.input(1));
            const TensorInfo* zp = n.input_size() > 2 && !n.input(2).empty() ? tensorOf(n.input(2)) : nullptr;
            if (!q || !sc || (n.input_size() > 2 && !n.input(2).empty() && !zp) || q->dequant ||
                (q->dtype != DType::I8 && q->dtype != DType::U8) || sc->dtype != DType::F32 ||
                (zp && zp->dtype != q->dtype) || !onlyHere(n.input(0)))
                continue;
            auto d = std::make_shared<Dequantization>();
            OnnxAttrs a(n);
            const int64_t rank = static_cast<int64_t>(q->shape.size());
            int64_t axis = a.i("axis", 1);
            d->block = a.i("block_size", 0);
            d->codeShape = q->shape;
            d->isSigned = q->dtype == DType::I8;
            d->bits = packed4.count(q->name) ? 4 : 8;
            if (sc->numel == 1 && sc->shape.size() <= 1) {
                d->axis = -1;
            } else {
                if (axis < 0)
                    axis += rank;
                if (axis < 0 || axis >= rank)
                    fail("DequantizeLinear node '" + n.name() + "': axis " + std::to_string(a.i("axis", 1)) +
                         " is outside the rank-" + std::to_string(rank) + " input");
                d->axis = static_cast<int>(axis);
                for (size_t k = static_cast<size_t>(axis) + 1; k < q->shape.size(); ++k)
                    d->inner *= static_cast<uint64_t>(q->shape[k]);
                const auto dim = static_cast<uint64_t>(q->shape[static_cast<size_t>(axis)]);
                uint64_t want = dim;
                if (d->block > 0 && dim > 0)
                    want = q->numel / dim * ((dim + static_cast<uint64_t>(d->block) - 1) / static_cast<uint64_t>(d->block));
                else if (d->block < 0)
                    fail("DequantizeLinear node '" + n.name() + "': block_size " + std::to_string(d->block) +
                         " is negative");
                if (sc->numel != want)
                    fail("DequantizeLinear node '" + n.name() + "': scale '" + sc->name + "' has " +
                         std::to_string(sc->numel) + " values where the input's axis " + std::to_string(axis) +
                         " needs " + std::to_string(want));
            }
            if (zp && zp->numel != sc->numel)
                fail("DequantizeLinear node '" + n.name() + "': zero point '" + zp->name + "' has " +
                     std::to_string(zp->numel) + " values, the scale " + std::to_string(sc->numel));
            d->scale = m.readFloat(byName.at(sc->name));
            if (zp) {
                d->zero.resize(zp->numel);
                for (uint64_t k = 0; k < zp->numel; ++k)
                    d->zero[k] = d->isSigned ? static_cast<int8_t>(zp->data[k]) : zp->data[k];
            }
            d->storedBytes = (d->bits == 4 ? (q->numel + 1) / 2 : q->numel) + sc->nbytes +
                             (zp ? (d->bits == 4 ? (zp->numel + 1) / 2 : zp->numel) : 0);
            TensorInfo t = *q;
            t.name = n.output(0);
            t.dequant = std::move(d);
            consumed.insert(q->name);
            if (onlyHere(sc->name))
                consumed.insert(sc->name);
            if (zp && onlyHere(zp->name))
                consumed.insert(zp->name);
            add(std::move(t));
        } else if (op == "Reshape" && n.input_size() == 2) {
            const TensorInfo* w = tensorOf(n.input(0));
            const TensorInfo* shape = tensorOf(n.input(1));
            if (!w || !w->dequant || !shape || shape->dtype != DType::I64 || shape->shape.size() != 1 ||
                !onlyHere(n.input(0)))
                continue;
            std::vector<int64_t> dims(shape->numel);
            std::memcpy(dims.data(), shape->data, shape->numel * 8);
            const auto numel = checkedNumel(dims);
            if (!numel || *numel != w->numel || std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d <= 0; }))
                continue; // computed at run time as an ordinary Reshape
            TensorInfo t = *w;
            t.name = n.output(0);
            t.shape = dims;
            consumed.insert(w->name);
            if (onlyHere(shape->name))
                consumed.insert(shape->name);
            add(std::move(t));
        } else if (op == "Cast" && n.input_size() == 1) {
            const TensorInfo* h = tensorOf(n.input(0));
            if (!h || h->dequant || (h->dtype != DType::F16 && h->dtype != DType::BF16) ||
                OnnxAttrs(n).i("to", 0) != onnx::TensorProto::FLOAT || !onlyHere(n.input(0)))
                continue;
            TensorInfo t = *h;
            t.name = n.output(0);
            consumed.insert(h->name);
            add(std::move(t));
        }
    }
    if (consumed.empty())
        return;
    std::vector<TensorInfo> kept;
    for (auto& t : m.tensors)
        if (!consumed.count(t.name))
            kept.push_back(std::move(t));
    m.tensors = std::move(kept);
}

} // namespace bonsai
