// ONNX executor, planning: op factories, topological order, value lifetimes, and the
// unsupported-op queries (see onnx_exec_impl.h).
#include "exec/onnx_exec_impl.h"

#include "formats/onnx_model.h"
#include "exec/fusion.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <queue>

namespace bonsai {

using namespace exec;

// --- planning ---

namespace {

const Registry& registry()
{
    static const Registry r = [] {
        Registry reg;
        addElementwiseOps(reg);
        addNnOps(reg);
        addPoolOps(reg);
        addNormOps(reg);
        addShapeOps(reg);
        addDataOps(reg);
        return reg;
    }();
    return r;
}

const onnx::ModelProto& protoOf(const Model& m)
{
    const auto* p = onnxProto(m);
    if (!p)
        throw Error(m.path + ": the ONNX executor needs a model read from an .onnx file");
    return *p;
}

int defaultOpset(const onnx::ModelProto& p)
{
    for (const auto& o : p.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx")
            return static_cast<int>(o.version());
    return 1;
}


// Maps a TensorProto data type to the engine's value type; nullopt when not representable.
std::optional<Value::Type> valueType(int32_t t)
{
    using TP = onnx::TensorProto;
    switch (t) {
    case TP::FLOAT: case TP::DOUBLE: case TP::FLOAT16: case TP::BFLOAT16:
        return Value::Type::Float;
    case TP::INT64: case TP::INT32: case TP::INT16: case TP::INT8:
    case TP::UINT8: case TP::UINT16: case TP::UINT32: case TP::UINT64:
        return Value::Type::Int64;
    case TP::BOOL: return Value::Type::Bool;
    default: return std::nullopt;
    }
}

// "node 'name' (Op)" for messages about a node of the file.
std::string nodeLabel(const onnx::NodeProto& n)
{
    return "node '" + n.name() + "' (" + n.op_type() + ")";
}

} // namespace

namespace {

template <class T> void readInts(const TensorInfo& t, std::vector<int64_t>& out)
{
    out.resize(t.numel);
    for (uint64_t k = 0; k < t.numel; ++k) {
        T v;
        std::memcpy(&v, t.data + k * sizeof(T), sizeof(T));
        out[k] = static_cast<int64_t>(v);
    }
}

} // namespace

// A number for Value::weightVersion that no weight had before.
uint64_t newWeightVersion()
{
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

// A model tensor as a Value: integer types widen to int64, float types convert to float.
Value tensorValue(const Model& model, int tensor)
{
    const auto& t = model.tensors[static_cast<size_t>(tensor)];
    Value v;
    v.weightVersion = newWeightVersion();
    v.shape = t.shape;
    if (t.dequant) {
        v.type = Value::Type::Float;
        v.f = model.readFloat(tensor);
        return v;
    }
    switch (t.dtype) {
    case DType::I64: v.type = Value::Type::Int64; readInts<int64_t>(t, v.i); break;
    case DType::I32: v.type = Value::Type::Int64; readInts<int32_t>(t, v.i); break;
    case DType::I16: v.type = Value::Type::Int64; readInts<int16_t>(t, v.i); break;
    case DType::I8: v.type = Value::Type::Int64; readInts<int8_t>(t, v.i); break;
    case DType::U8: v.type = Value::Type::Int64; readInts<uint8_t>(t, v.i); break;
    case DType::U16: v.type = Value::Type::Int64; readInts<uint16_t>(t, v.i); break;
    case DType::U32: v.type = Value::Type::Int64; readInts<uint32_t>(t, v.i); break;
    case DType::U64: v.type = Value::Type::Int64; readInts<uint64_t>(t, v.i); break;
    case DType::Bool:
        v.type = Value::Type::Bool;
        v.b.resize(t.numel);
        for (uint64_t k = 0; k < t.numel; ++k)
            v.b[k] = t.data[k] != 0;
        break;
    default:
        v.type = Value::Type::Float;
        v.f = model.readFloat(tensor);
        break;
    }
    return v;
}


// Plans the graph into `nodes` / impl; unsupported ops are collected in impl.unsupported.
void planGraph(const Model& model, const ExecOptions& options, std::vector<ExecNode>& nodes,
                      OnnxExecutor::Impl& impl,
                      std::vector<std::string>& inputNames, std::vector<std::string>& outputNames,
                      const std::function<const Value&(int)>& weight)
{
    const auto& proto = protoOf(model);
    const auto& g = proto.graph();
    const int opset = defaultOpset(proto);

    std::unordered_set<std::string> initializers;
    for (const auto& t : g.initializer())
        initializers.insert(t.name());

    std::unordered_set<std::string> available; // graph inputs and weights
    for (const auto& vi : g.input()) {
        if (initializers.count(vi.name())) {
            continue;
        }
        GraphInput in;
        in.name = vi.name();
        const auto& tt = vi.type().tensor_type();
        if (!vi.type().has_tensor_type()) {
            impl.unsupported.push_back("graph input '" + vi.name() + "': not a tensor");
        } else if (auto vt = valueType(tt.elem_type())) {
            in.type = *vt;
        } else {
            impl.unsupported.push_back("graph input '" + vi.name() + "': element type " +
                                       std::to_string(tt.elem_type()));
        }
        if (tt.has_shape()) {
            in.hasShape = true;
            for (const auto& d : tt.shape().dim())
                in.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
        }
        if (!impl.inputIndex.emplace(in.name, impl.inputs.size()).second)
            throw FileError(model.path, "graph input '" + in.name + "' is declared twice");
        inputNames.push_back(in.name);
        available.insert(in.name);
        impl.inputs.push_back(std::move(in));
    }
    for (const auto& vi : g.output()) {
        outputNames.push_back(vi.name());
        impl.outputSet.insert(vi.name());
    }
    for (const auto& t : model.tensors)
        available.insert(t.name);

    // Nodes to run (Constant nodes whose value is a model tensor are weights, not nodes; so are
    // the DequantizeLinear, Reshape and Cast nodes the reader folded into a QDQ or FP16 weight).
    struct Planned {
        ExecNode node;
        Kernel kernel;
    };
    std::vector<Planned> planned;
    const auto& reg = registry();
    const auto fusion = planFusion(g, options, impl.outputSet);
    // (A node only read by such nodes, e.g. the DequantizeLinear before a folded Reshape, too.)
    std::vector<bool> weightNode(static_cast<size_t>(g.node_size()), false);
    {
        std::unordered_map<std::string, std::vector<int>> readers;
        for (int ni = 0; ni < g.node_size(); ++ni)
            for (const auto& in : g.node(ni).input())
                readers[in].push_back(ni);
        for (int ni = g.node_size() - 1; ni >= 0; --ni) {
            const auto& n = g.node(ni);
            const std::string& op = n.op_type();
            if (!(op == "Constant" || op == "DequantizeLinear" || op == "Reshape" || op == "Cast") ||
                n.output_size() != 1 || !(n.domain().empty() || n.domain() == "ai.onnx") ||
                impl.outputSet.count(n.output(0)))
                continue;
            bool folded = model.findTensor(n.output(0)) >= 0;
            if (!folded && op != "Constant") {
                const auto it = readers.find(n.output(0));
                folded = it != readers.end() && !it->second.empty() &&
                         std::all_of(it->second.begin(), it->second.end(),
                                     [&](int r) { return weightNode[static_cast<size_t>(r)]; });
            }
            weightNode[static_cast<size_t>(ni)] = folded;
        }
    }
    for (int ni = 0; ni < g.node_size(); ++ni) {
        const auto& n = g.node(ni);
        if (weightNode[static_cast<size_t>(ni)])
            continue;
        const auto& fu = fusion[static_cast<size_t>(ni)];
        if (fu.absorbed)
            continue;
        Planned p;
        p.node.op = n.op_type();
        p.node.name = n.name();
        p.node.inputs.assign(n.input().begin(), n.input().end());
        p.node.outputs.assign(n.output().begin(), n.output().end());
        ConvEpilogue epilogue = fu.epilogue;
        if (fu.last >= 0) {
            p.node.outputs.assign(g.node(fu.last).output().begin(), g.node(fu.last).output().end());
            if (epilogue.bn || epilogue.add)
                p.node.inputs.resize(std::max<size_t>(p.node.inputs.size(), 3));
            if (epilogue.bn) {
                const auto& bn = g.node(fu.bnNode);
                p.node.inputs.insert(p.node.inputs.end(), bn.input().begin() + 1, bn.input().end());
                p.node.fused.push_back("BatchNormalization");
            }
            if (epilogue.add) {
                epilogue.addAt = p.node.inputs.size();
                p.node.inputs.push_back(fu.addOther);
                p.node.fused.push_back("Add");
            }
            if (fu.epilogue.relu)
                p.node.fused.push_back("Relu");
            if (fu.epilogue.pool)
                p.node.fused.push_back("MaxPool");
        }
        const std::string label = n.op_type();
        if (!n.domain().empty() && n.domain() != "ai.onnx") {
            impl.unsupported.push_back(label + ": domain '" + n.domain() + "'");
        } else if (auto it = reg.find(n.op_type()); it == reg.end()) {
            impl.unsupported.push_back(label + ": not implemented");
        } else {
            PlanContext ctx{n, opset, OnnxAttrs(n), [&](size_t k) -> const Value* {
                                if (k >= static_cast<size_t>(n.input_size()))
                                    return nullptr;
                                const std::string& name = n.input(static_cast<int>(k));
                                if (name.empty() || impl.inputIndex.count(name))
                                    return nullptr;
                                const int t = model.findTensor(name);
                                return t >= 0 ? &weight(t) : nullptr;
                            }};
            ctx.deploy = options.deploy;
            ctx.onednn = options.onednn;
            try {
                p.kernel = fu.last >= 0 ? makeFusedConv(ctx, epilogue) : it->second(ctx);
                const auto unread = ctx.attrs.unread();
                if (!unread.empty()) {
                    std::string s;
                    for (const auto& a : unread)
                        s += (s.empty() ? "" : ", ") + a;
                    impl.unsupported.push_back(label + ": attribute " + s + " not implemented");
                }
            } catch (const Unsupported& e) {
                impl.unsupported.push_back(label + ": " + e.what());
            } catch (const std::bad_alloc&) {
                throw FileError(model.path, nodeLabel(n) + ": out of memory while planning");
            } catch (const std::exception& e) {
                throw FileError(model.path, nodeLabel(n) + ": " + e.what());
            }
        }
        planned.push_back(std::move(p));
    }

    // Topological order (stable: among ready nodes the earliest in the file runs first).
    std::unordered_map<std::string, size_t> producedBy;
    for (size_t k = 0; k < planned.size(); ++k)
        for (const auto& o : planned[k].node.outputs)
            if (!o.empty() && !producedBy.emplace(o, k).second)
                throw FileError(model.path, "value '" + o + "' is produced by two nodes");
    std::vector<size_t> pending(planned.size(), 0);
    std::vector<std::vector<size_t>> consumers(planned.size());
    for (size_t k = 0; k < planned.size(); ++k) {
        for (const auto& in : planned[k].node.inputs) {
            if (in.empty())
                continue;
            if (auto it = producedBy.find(in); it != producedBy.end()) {
                ++pending[k];
                consumers[it->second].push_back(k);
            } else if (!available.count(in)) {
                throw FileError(model.path, "node '" + planned[k].node.name + "' (" +
                            planned[k].node.op + ") reads '" + in +
                            "', which is neither a graph input, a weight nor a node output");
            }
        }
    }
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
    for (size_t k = 0; k < planned.size(); ++k)
        if (!pending[k])
            ready.push(k);
    while (!ready.empty()) {
        const size_t k = ready.top();
        ready.pop();
        const size_t idx = nodes.size();
        for (const auto& in : planned[k].node.inputs) {
            if (in.empty())
                continue;
            impl.firstUse.emplace(in, idx);
            impl.lastUse[in] = idx;
        }
        for (const auto& o : planned[k].node.outputs)
            if (!o.empty())
                impl.producer[o] = idx;
        nodes.push_back(std::move(planned[k].node));
        impl.kernels.push_back(std::move(planned[k].kernel));
        for (size_t c : consumers[k])
            if (--pending[c] == 0)
                ready.push(c);
    }
    if (nodes.size() != planned.size())
        throw FileError(model.path, "the graph has a cycle");
    for (const auto& o : outputNames)
        if (!producedBy.count(o) && !available.count(o))
            throw FileError(model.path, "graph output '" + o + "' is never produced");
}

std::vector<std::string> OnnxExecutor::unsupportedReasons(const Model& model)
{
    Impl impl;
    std::vector<ExecNode> nodes;
    std::vector<std::string> ins, outs;
    // Planning needs constant values (e.g. Dropout's training_mode); convert them here.
    std::unordered_map<int, Value> cache;
    planGraph(model, ExecOptions{}, nodes, impl, ins, outs, [&](int t) -> const Value& {
        auto it = cache.find(t);
        if (it == cache.end())
            it = cache.emplace(t, tensorValue(model, t)).first;
        return it->second;
    });
    std::vector<std::string> u = impl.unsupported;
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    return u;
}

std::vector<std::string> OnnxExecutor::unsupportedOps(const Model& model)
{
    std::vector<std::string> ops;
    for (const auto& r : unsupportedReasons(model))
        if (r.rfind("graph input", 0) != 0)
            ops.push_back(r.substr(0, r.find(':')));
    std::sort(ops.begin(), ops.end());
    ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
    return ops;
}

} // namespace bonsai
