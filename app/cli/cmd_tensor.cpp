// bonsai-cli tensor: one tensor as a float32 .npy file; bonsai-cli stats: weight statistics.
#include "commands.h"
#include "format.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/npy.h"
#include "bonsai/stats.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace cli {

static int requireTensor(const bonsai::Model& m, const std::string& name)
{
    const int i = m.findTensor(name);
    if (i < 0)
        throw bonsai::FileError(m.path, "no tensor named '" + name + "'");
    return i;
}

int cmdTensor(const Args& in)
{
    Args args = in;
    std::string out;
    if (!takeOption(args, "--npy", out))
        throw UsageError("--npy OUT.npy is required\nusage: bonsai-cli tensor MODEL NAME --npy OUT.npy");
    expectPositional(args, 2, "bonsai-cli tensor MODEL NAME --npy OUT.npy");
    auto model = bonsai::Model::open(args[0]);
    bonsai::writeTensorNpy(*model, requireTensor(*model, args[1]), out);
    return 0;
}

static nlohmann::ordered_json statsJson(const bonsai::TensorInfo& t, const bonsai::TensorStats& s)
{
    nlohmann::ordered_json j;
    j["name"] = t.name;
    j["count"] = s.count;
    j["non_finite"] = s.nonFinite;
    j["min"] = s.min;
    j["max"] = s.max;
    j["mean"] = s.mean;
    j["std"] = s.std;
    j["kurtosis"] = s.kurtosis;
    j["outliers_6std"] = s.outliers;
    j["zeros"] = s.zeros;
    j["histogram"] = s.histogram;
    if (!s.channelMin.empty()) {
        j["channel_min"] = s.channelMin;
        j["channel_max"] = s.channelMax;
    }
    return j;
}

int cmdStats(const Args& in)
{
    Args args = in;
    const bool asJson = takeFlag(args, "--json");
    std::string bins = "256";
    takeOption(args, "--bins", bins);
    if (args.size() != 1 && args.size() != 2)
        expectPositional(args, 1, "bonsai-cli stats MODEL [NAME] [--bins N] [--json]");
    expectPositional(args, args.size(), "bonsai-cli stats MODEL [NAME] [--bins N] [--json]");
    auto model = bonsai::Model::open(args[0]);
    bonsai::StatsOptions opt;
    try {
        opt.bins = std::stoi(bins);
    } catch (const std::exception&) {
        throw UsageError("--bins needs a number");
    }
    if (opt.bins < 1 || opt.bins > 1 << 20)
        throw UsageError("--bins must be between 1 and 1048576");

    std::vector<std::pair<int, int>> todo; // tensor, channel axis
    if (args.size() == 2) {
        const int t = requireTensor(*model, args[1]);
        int axis = -1;
        for (const auto& l : model->layers)
            if (l.weight == t)
                axis = l.outAxis;
        todo.emplace_back(t, axis);
    } else {
        for (const auto& l : model->layers)
            todo.emplace_back(l.weight, -1);
    }
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    if (!asJson)
        std::printf("%-48s %12s %12s %12s %12s %10s %10s\n", "tensor", "min", "max", "mean", "std", "kurtosis", "outliers");
    for (auto [t, axis] : todo) {
        opt.channelAxis = axis;
        const auto s = bonsai::computeStats(*model, t, opt);
        const auto& ti = model->tensors[static_cast<size_t>(t)];
        if (asJson)
            all.push_back(statsJson(ti, s));
        else
            std::printf("%-48s %12.5g %12.5g %12.5g %12.5g %10.3f %10s\n", ti.name.c_str(), s.min, s.max,
                        s.mean, s.std, s.kurtosis, groupDigits(s.outliers).c_str());
    }
    if (asJson)
        std::puts((args.size() == 2 ? all[0] : all).dump(2).c_str());
    return 0;
}

} // namespace cli
