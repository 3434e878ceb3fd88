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
    const auto plain = [](const onnx::NodeProto& n, const char* op) {
        return n.op_type() == op && defaultDomain(n) && n.output_size() == 1;
    };
    for (int k = 0; k < g.node_size(); ++k) {
        const auto& conv = g.node(k);
        if (conv.op_type() != "Conv" || !defaultDomain(conv) || f[static_cast<size_t>(k)].absorbed)
            continue;
        Fusion& head = f[static_cast<size_t>(k)];
        int at = k;           // the chain's last node so far
        int r = sole(conv);
        // BatchNormalization in inference form (one output, no training_mode).
        if (r > at && plain(g.node(r), "BatchNormalization") && g.node(r).input_size() == 5) {
            OnnxAttrs bn(g.node(r));
            try {
                head.epilogue.bnEpsilon = bn.f("epsilon", 1e-5f);
                bn.ignore("momentum");
                const bool ok = bn.i("training_mode", 0) == 0 && bn.i("spatial", 1) == 1 &&
                                bn.unread().empty();
                if (ok) {
                    head.epilogue.bn = true;
                    head.bnNode = r;
                    at = r;
                    r = sole(g.node(r));
                }
            } catch (const Error&) {
                // out-of-range attributes: planning the node itself reports them
            }
        }
        // Add of another value (a residual).
        if (r > at && plain(g.node(r), "Add") && g.node(r).input_size() == 2) {
            const auto& add = g.node(r);
            const std::string& mine = g.node(at).output(0);
            const bool first = add.input(0) == mine, second = add.input(1) == mine;
            if (first != second && add.attribute_size() == 0) {
                head.epilogue.add = true;
                head.addOther = add.input(first ? 1 : 0);
                at = r;
                r = sole(add);
            }
        }
        if (r > at && plain(g.node(r), "Relu") && g.node(r).attribute_size() == 0) {
            head.epilogue.relu = true;
            at = r;
            const int p = sole(g.node(r));
            if (p > at && plain(g.node(p), "MaxPool")) {
                const auto& pool = g.node(p);
                OnnxAttrs pa(pool);
                const auto all = [](const std::vector<int64_t>& v, int64_t x) {
                    return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
                };
                WindowAttrs w;
                bool read = true;
                try {
                    w = readWindowAttrs(pa, true);
                } catch (const Error&) {
                    read = false; // out-of-range attributes: planning the MaxPool itself reports them
                }
                if (read) {
                    pa.ignore("storage_order");
                    const bool ok = all(w.pads, 0) && all(w.dilations, 1) &&
                                    (w.autoPad == "NOTSET" || w.autoPad == "VALID") && !w.ceilMode &&
                                    pa.unread().empty();
                    if (ok && w.kernel.size() == 2 && (w.strides.empty() || w.strides.size() == 2)) {
                        head.epilogue.pool = true;
                        head.epilogue.kh = w.kernel[0];
                        head.epilogue.kw = w.kernel[1];
                        head.epilogue.sh = w.strides.empty() ? 1 : w.strides[0];
                        head.epilogue.sw = w.strides.empty() ? 1 : w.strides[1];
                        at = p;
                    }
                }
            }
        }
        if (at == k)
            continue;
        head.last = at;
        // Every node of the chain after the Conv is absorbed (each is its predecessor's sole reader).
        for (int q = sole(conv);; q = sole(g.node(q))) {
            f[static_cast<size_t>(q)].absorbed = true;
            if (q == at)
                break;
        }
    }
    return f;
}

} // namespace bonsai::exec
