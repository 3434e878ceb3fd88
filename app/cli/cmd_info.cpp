// bonsai-cli info: tensors, layers and totals of a model.
#include "commands.h"
#include "format.h"

#include "bonsai/model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace cli {

int cmdInfo(const Args& in)
{
    Args args = in;
    const bool asJson = takeFlag(args, "--json");
    expectPositional(args, 1, "bonsai-cli info MODEL [--json]");
    auto model = bonsai::Model::open(args[0]);

    std::vector<int> layerOf(model->tensors.size(), -1);
    for (size_t i = 0; i < model->layers.size(); ++i)
        layerOf[static_cast<size_t>(model->layers[i].weight)] = static_cast<int>(i);

    if (asJson) {
        nlohmann::ordered_json j;
        j["format"] = std::string(bonsai::formatName(model->format));
        j["path"] = model->path;
        auto& ts = j["tensors"] = nlohmann::ordered_json::array();
        for (size_t i = 0; i < model->tensors.size(); ++i) {
            const auto& t = model->tensors[i];
            nlohmann::ordered_json e;
            e["name"] = t.name;
            e["shape"] = t.shape;
            e["dtype"] = t.storedType();
            e["params"] = t.numel;
            e["bytes"] = t.storedBytes();
            if (layerOf[i] >= 0) {
                const auto& l = model->layers[static_cast<size_t>(layerOf[i])];
                e["layer"] = l.name;
                e["op"] = l.op;
                e["out_axis"] = l.outAxis;
                if (l.bias >= 0)
                    e["bias"] = model->tensors[static_cast<size_t>(l.bias)].name;
            }
            ts.push_back(std::move(e));
        }
        j["total_params"] = model->totalParams();
        j["total_bytes"] = model->totalBytes();
        j["layers"] = model->layers.size();
        auto& md = j["metadata"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : model->metadata)
            md[k] = v;
        std::puts(j.dump(2).c_str());
        return 0;
    }

    std::printf("%s  (%s)\n", model->path.c_str(), std::string(bonsai::formatName(model->format)).c_str());
    for (const auto& [k, v] : model->metadata)
        std::printf("  %s: %s\n", k.c_str(), v.size() > 100 ? (v.substr(0, 97) + "...").c_str() : v.c_str());
    int typeWidth = 8; // QDQ types ("INT4 blocks of 32 + DequantizeLinear") are wider
    for (const auto& t : model->tensors)
        typeWidth = std::max(typeWidth, static_cast<int>(t.storedType().size()));
    std::printf("\n%-48s %-10s %-22s %-*s %14s %12s\n", "tensor", "op", "shape", typeWidth, "dtype", "params", "bytes");
    for (size_t i = 0; i < model->tensors.size(); ++i) {
        const auto& t = model->tensors[i];
        const std::string op = layerOf[i] >= 0 ? model->layers[static_cast<size_t>(layerOf[i])].op : "-";
        std::printf("%-48s %-10s %-22s %-*s %14s %12s\n", t.name.c_str(), op.c_str(),
                    shapeText(t.shape).c_str(), typeWidth, t.storedType().c_str(),
                    groupDigits(t.numel).c_str(), humanBytes(t.storedBytes()).c_str());
    }
    std::printf("\n%zu tensors, %zu layers, %s parameters, %s\n", model->tensors.size(),
                model->layers.size(), groupDigits(model->totalParams()).c_str(),
                humanBytes(model->totalBytes()).c_str());
    return 0;
}

} // namespace cli
