// ONNX executor: runs ranges of nodes over a store of named values (planning is in
// onnx_exec_plan.cpp, op kernels in ops_*.cpp).
#include "exec/onnx_exec_impl.h"

#include <algorithm>

namespace bonsai {

using namespace exec;

OnnxExecutor::OnnxExecutor(const Model& model, const ExecOptions& options)
    : model_(model), impl_(std::make_unique<Impl>())
{
    planGraph(model, options, nodes_, *impl_, inputNames_, outputNames_,
              [this](int t) -> const Value& { return weight(t); });
    if (!impl_->unsupported.empty()) {
        std::vector<std::string> u = impl_->unsupported;
        std::sort(u.begin(), u.end());
        u.erase(std::unique(u.begin(), u.end()), u.end());
        std::string s;
        for (const auto& r : u)
            s += (s.empty() ? "" : "; ") + r;
        throw FileError(model.path, "cannot run the model, unsupported: " + s);
    }
}

OnnxExecutor::~OnnxExecutor() = default;

// --- weights ---


const Value& OnnxExecutor::weight(int tensor) const
{
    std::lock_guard<std::mutex> lock(impl_->weightMutex);
    auto& slot = impl_->weights[tensor];
    if (!slot)
        slot = std::make_unique<Value>(tensorValue(model_, tensor));
    return *slot;
}

void OnnxExecutor::setWeight(const std::string& tensorName, std::vector<float> values)
{
    const int t = model_.findTensor(tensorName);
    if (t < 0)
        throw Error("setWeight: the model has no tensor '" + tensorName + "'");
    const auto& ti = model_.tensors[static_cast<size_t>(t)];
    if (!dtypeInfo(ti.dtype).isFloat && !dtypeInfo(ti.dtype).isQuantized && !ti.dequant)
        throw Error("setWeight: tensor '" + tensorName + "' is not a float tensor");
    if (values.size() != ti.numel)
        throw Error("setWeight: tensor '" + tensorName + "' has " + std::to_string(ti.numel) +
                    " elements, " + std::to_string(values.size()) + " values given");
    Value v;
    v.type = Value::Type::Float;
    v.shape = ti.shape;
    v.f = std::move(values);
    v.weightVersion = newWeightVersion();
    impl_->overrides[tensorName] = std::move(v);
}

void OnnxExecutor::setWeight(const std::string& tensorName, std::vector<float> values, QuantizedWeight codes)
{
    const int t = model_.findTensor(tensorName);
    if (t < 0)
        throw Error("setWeight: the model has no tensor '" + tensorName + "'");
    const size_t rank = t >= 0 ? model_.tensors[static_cast<size_t>(t)].shape.size() : 0;
    if (codes.codes.size() != values.size() || codes.axis < 0 || static_cast<size_t>(codes.axis) >= std::max<size_t>(rank, 1) ||
        (codes.scales.size() != 1 &&
         (rank == 0 || static_cast<int64_t>(codes.scales.size()) !=
                           model_.tensors[static_cast<size_t>(t)].shape[static_cast<size_t>(codes.axis)])))
        throw Error("setWeight: the codes of '" + tensorName + "' do not fit its shape");
    setWeight(tensorName, std::move(values));
    impl_->overrides[tensorName].quantized = std::make_shared<const QuantizedWeight>(std::move(codes));
}

void OnnxExecutor::clearWeight(const std::string& tensorName)
{
    impl_->overrides.erase(tensorName);
}

void OnnxExecutor::clearWeights()
{
    impl_->overrides.clear();
}

// --- queries ---

std::vector<int64_t> OnnxExecutor::inputShape(size_t i) const
{
    return impl_->inputs.at(i).shape;
}

Value::Type OnnxExecutor::inputType(size_t i) const
{
    return impl_->inputs.at(i).type;
}

size_t OnnxExecutor::firstNodeUsing(const std::string& name) const
{
    auto it = impl_->firstUse.find(name);
    return it == impl_->firstUse.end() ? SIZE_MAX : it->second;
}

size_t OnnxExecutor::lastNodeUsing(const std::string& name) const
{
    auto it = impl_->lastUse.find(name);
    return it == impl_->lastUse.end() ? SIZE_MAX : it->second;
}

size_t OnnxExecutor::producerOf(const std::string& name) const
{
    auto it = impl_->producer.find(name);
    return it == impl_->producer.end() ? SIZE_MAX : it->second;
}

// --- running ---

void OnnxExecutor::checkInput(const std::string& name, const Value& v) const
{
    auto it = impl_->inputIndex.find(name);
    if (it == impl_->inputIndex.end())
        return;
    const auto& gi = impl_->inputs[it->second];
    std::string expected(valueTypeName(gi.type));
    if (gi.hasShape)
        expected.append(" ").append(shapeString(gi.shape));
    bool ok = v.type == gi.type;
    if (gi.hasShape) {
        ok = ok && v.shape.size() == gi.shape.size();
        for (size_t k = 0; ok && k < gi.shape.size(); ++k)
            ok = gi.shape[k] < 0 || gi.shape[k] == v.shape[k];
    }
    if (ok) {
        size_t have = 0;
        visitType(v.type, [&](auto tag) { have = elems<typename decltype(tag)::type>(v).size(); });
        if (have != v.numel())
            throw FileError(model_.path, "input '" + name + "' has " + std::to_string(have) +
                        " elements but its shape " + shapeString(v.shape) + " needs " +
                        std::to_string(v.numel()));
        return;
    }
    throw FileError(model_.path, "input '" + name + "' is " + std::string(valueTypeName(v.type)) + " " +
                shapeString(v.shape) + ", the model expects " + expected);
}

const Value* OnnxExecutor::lookup(const Store& store, const std::string& name) const
{
    if (auto it = store.find(name); it != store.end())
        return &it->second;
    if (auto it = impl_->overrides.find(name); it != impl_->overrides.end())
        return &it->second;
    const int t = model_.findTensor(name);
    return t >= 0 ? &weight(t) : nullptr;
}

void OnnxExecutor::run(Store& store, size_t from, size_t to, const std::function<bool()>& cancelled) const
{
    RunOptions o;
    o.cancelled = cancelled;
    run(store, from, to, o);
}

void OnnxExecutor::run(Store& store, size_t from, size_t to, const RunOptions& options) const
{
    to = std::min(to, nodes_.size());
    std::unordered_set<std::string> checked;
    std::vector<const Value*> ins;
    std::vector<Value> outs;
    for (size_t k = from; k < to; ++k) {
        if (options.cancelled && options.cancelled())
            return;
        const ExecNode& n = nodes_[k];
        const auto where = [&] {
            return "node " + std::to_string(k) + " '" + n.name + "' (" + n.op + ")";
        };
        ins.assign(n.inputs.size(), nullptr);
        for (size_t j = 0; j < n.inputs.size(); ++j) {
            const std::string& name = n.inputs[j];
            if (name.empty())
                continue;
            ins[j] = lookup(store, name);
            if (impl_->inputIndex.count(name)) {
                if (!ins[j] || !store.count(name)) {
                    const auto& gi = impl_->inputs[impl_->inputIndex.at(name)];
                    throw FileError(model_.path, "input '" + name + "' is missing (the model expects " +
                                std::string(valueTypeName(gi.type)) + " " +
                                (gi.hasShape ? shapeString(gi.shape) : "of any shape") + ")");
                }
                if (checked.insert(name).second)
                    checkInput(name, *ins[j]);
            }
            if (!ins[j])
                throw FileError(model_.path, where() + ": value '" + name + "' is not in the store");
        }
        // Reuse the buffers of values this node produced in an earlier run.
        outs.clear();
        outs.resize(n.outputs.size());
        for (size_t j = 0; j < n.outputs.size(); ++j)
            if (!n.outputs[j].empty())
                if (auto it = store.find(n.outputs[j]); it != store.end())
                    outs[j] = std::move(it->second);
        try {
            impl_->kernels[k](ins, outs);
        } catch (const Error& e) {
            throw FileError(model_.path, where() + ": " + e.what());
        } catch (const std::bad_alloc&) {
            throw FileError(model_.path, where() + ": out of memory");
        } catch (const std::exception& e) {
            // A kernel let a library exception through: a bug, named as one.
            throw ExecInternalError(model_.path, where() + ": internal error (" + e.what() + ")");
        }
        for (size_t j = 0; j < n.outputs.size(); ++j)
            if (!n.outputs[j].empty()) {
                outs[j].weightVersion = 0; // a computed value, even a weight's copy
                outs[j].quantized.reset();
                store.insert_or_assign(n.outputs[j], std::move(outs[j]));
            }
        if (options.dropDead) {
            const auto droppable = [&](const std::string& name) {
                return !name.empty() && !impl_->outputSet.count(name) && !options.keep.count(name);
            };
            for (const auto& name : n.inputs)
                if (droppable(name) && impl_->lastUse.at(name) == k)
                    store.erase(name);
            for (const auto& name : n.outputs)
                if (droppable(name) && !impl_->lastUse.count(name))
                    store.erase(name);
        }
    }
}

std::vector<Value> OnnxExecutor::run(const std::vector<Value>& inputs) const
{
    if (inputs.size() != inputNames_.size())
        throw FileError(model_.path, "the model has " + std::to_string(inputNames_.size()) + " inputs, " +
                    std::to_string(inputs.size()) + " given");
    Store store;
    for (size_t k = 0; k < inputs.size(); ++k) {
        checkInput(inputNames_[k], inputs[k]);
        store[inputNames_[k]] = inputs[k];
    }
    RunOptions o;
    o.dropDead = true;
    run(store, 0, SIZE_MAX, o);
    std::vector<Value> out;
    for (const auto& name : outputNames_) {
        if (auto it = store.find(name); it != store.end() && producerOf(name) != SIZE_MAX) {
            out.push_back(std::move(it->second));
        } else {
            const Value* v = lookup(store, name);
            if (!v)
                throw FileError(model_.path, "graph output '" + name + "' was not produced");
            out.push_back(*v);
        }
    }
    return out;
}

} // namespace bonsai
