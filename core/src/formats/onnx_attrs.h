#pragma once
// Reading the attributes of an ONNX node: one reader for the executor's op factories, the
// trainer, the evaluator's calibration and the layer listing. A missing attribute gives the
// caller's default. The reader records every name asked for, so a caller can list the
// attributes it never looked at (the executor rejects nodes with such attributes).
// The ranged readers refuse values outside [lo, hi] with an Error naming the attribute, the
// value and the range (callers add the file and the node): every attribute that divides,
// sizes a loop or an allocation is read through them.
#include "bonsai/error.h"

#include <onnx/onnx-ml.pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace bonsai {

class OnnxAttrs {
public:
    explicit OnnxAttrs(const onnx::NodeProto& n) : node_(n) {}
    // The first attribute of that name, or nullptr.
    const onnx::AttributeProto* find(const std::string& name)
    {
        read_.insert(name);
        for (const auto& a : node_.attribute())
            if (a.name() == name)
                return &a;
        return nullptr;
    }
    bool has(const std::string& name) { return find(name) != nullptr; }
    int64_t i(const std::string& name, int64_t def)
    {
        const auto* a = find(name);
        return a ? a->i() : def;
    }
    float f(const std::string& name, float def)
    {
        const auto* a = find(name);
        return a ? a->f() : def;
    }
    std::string s(const std::string& name, const std::string& def)
    {
        const auto* a = find(name);
        return a ? a->s() : def;
    }
    std::vector<int64_t> ints(const std::string& name, std::vector<int64_t> def = {})
    {
        const auto* a = find(name);
        return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
    }
    int64_t i(const std::string& name, int64_t def, int64_t lo, int64_t hi)
    {
        const int64_t v = i(name, def);
        checkRange(name, v, lo, hi);
        return v;
    }
    std::vector<int64_t> ints(const std::string& name, int64_t lo, int64_t hi,
                              std::vector<int64_t> def = {})
    {
        std::vector<int64_t> v = ints(name, std::move(def));
        for (const int64_t x : v)
            checkRange(name, x, lo, hi);
        return v;
    }
    std::vector<float> floats(const std::string& name, std::vector<float> def = {})
    {
        const auto* a = find(name);
        return a ? std::vector<float>(a->floats().begin(), a->floats().end()) : def;
    }
    // Marks an attribute as understood without reading it (e.g. ignored hints).
    void ignore(const std::string& name) { read_.insert(name); }
    // The node's attributes no call above has asked for, in the node's order.
    std::vector<std::string> unread() const
    {
        std::vector<std::string> r;
        for (const auto& a : node_.attribute())
            if (!read_.count(a.name()))
                r.push_back(a.name());
        return r;
    }

private:
    static void checkRange(const std::string& name, int64_t v, int64_t lo, int64_t hi)
    {
        if (v < lo || v > hi)
            throw Error("attribute '" + name + "' value " + std::to_string(v) + " is outside [" +
                        std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }

    const onnx::NodeProto& node_;
    std::set<std::string> read_;
};

} // namespace bonsai
