#include "exec/fusion.h"

#include "exec/window.h"
#include "formats/onnx_attrs.h"

#include <algorithm>
#include <unordered_map>

namespace bonsai::exec {
namespace {

bool defaultDomain(const onnx::NodeProto& n)
{
    return n.domain().empty() || n.domain() == "ai.onnx";
}

} // namespace

std::vector<Fusion> planFusion(const onnx::GraphProto& g, const ExecOptions& options,
                               const std::unordered_set<std::string>& graphOutputs)
{
    std::vector<Fusion> f(static_cast<size_t>(g.node_size()));
    if (!options.fuse)
        return f;
    std::unordered_map<std::string, std::vector<int>> readers;
    for (int k = 0; k < g.node_size(); ++k)
        for (const auto& in : g.node(k).input())
            if (!in.empty())
                readers[in].push_back(k);
    const auto sole = [&](const onnx::NodeProto& n) -> int {
        if (n.output_size() != 1 || graphOutputs.count(n.output(0)) || options.keep.count(n.output(0)))
            return -1;
        auto it = readers.find(n.output(0));
        return it != readers.end() && it->second.size() == 1 ? it->second[0] : -1;
    };
    for (int k = 0; k < g.node_size(); ++k) {
        const auto& conv = g.node(k);
        if (conv.op_type() != "Conv" || !defaultDomain(conv) || f[static_cast<size_t>(k)].absorbed)
            continue;
        const int r = sole(conv);
        if (r < 0 || r <= k || g.node(r).op_type() != "Relu" || !defaultDomain(g.node(r)) ||
            g.node(r).attribute_size() != 0 || g.node(r).output_size() != 1)
            continue;
        Fusion& head = f[static_cast<size_t>(k)];
        head.epilogue.relu = true;
        head.last = r;
        f[static_cast<size_t>(r)].absorbed = true;
        const int p = sole(g.node(r));
        if (p < 0 || p <= r)
            continue;
        const auto& pool = g.node(p);
        if (pool.op_type() != "MaxPool" || !defaultDomain(pool) || pool.output_size() != 1)
            continue;
        OnnxAttrs at(pool);
        const auto all = [](const std::vector<int64_t>& v, int64_t x) {
            return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
        };
        WindowAttrs w;
        try {
            w = readWindowAttrs(at, true);
        } catch (const Error&) {
            continue; // out-of-range attributes: planning the MaxPool itself reports them
        }
        at.ignore("storage_order");
        const std::vector<int64_t>& kernel = w.kernel;
        const std::vector<int64_t>& strides = w.strides;
        const bool ok = all(w.pads, 0) && all(w.dilations, 1) &&
                        (w.autoPad == "NOTSET" || w.autoPad == "VALID") && !w.ceilMode &&
                        at.unread().empty();
        if (!ok || kernel.size() != 2 || (!strides.empty() && strides.size() != 2))
            continue;
        head.epilogue.pool = true;
        head.epilogue.kh = kernel[0];
        head.epilogue.kw = kernel[1];
        head.epilogue.sh = strides.empty() ? 1 : strides[0];
        head.epilogue.sw = strides.empty() ? 1 : strides[1];
        head.last = p;
        f[static_cast<size_t>(p)].absorbed = true;
    }
    return f;
}

} // namespace bonsai::exec
