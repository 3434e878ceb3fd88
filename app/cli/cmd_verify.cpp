// bonsai-cli verify: is MODEL (and the calibration data) what an export or a recipe records
// in its provenance? Each recorded file is compared by name, size and SHA-256.
#include "commands.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/provenance.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace cli {

int cmdVerify(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli verify RECORD MODEL [--calibration PATH] [--json]   (RECORD: a recipe .json or an export)";
    const bool asJson = takeFlag(args, "--json");
    std::string calibration;
    takeOption(args, "--calibration", calibration);
    expectPositional(args, 2, usage);
    const std::string record = args[0];
    const bonsai::Provenance p = bonsai::readRecordedProvenance(record);
    const auto model = bonsai::Model::open(args[1]);
    const bonsai::VerifyResult r = bonsai::verifyProvenance(p, *model, calibration);
    if (asJson) {
        nlohmann::ordered_json j;
        j["ok"] = r.ok;
        j["tool"] = p.tool;
        j["created"] = p.created;
        j["lines"] = r.lines;
        std::puts(j.dump(2).c_str());
    } else {
        std::printf("%s: made by %s on %s\n", record.c_str(), p.tool.c_str(), p.created.c_str());
        for (const auto& l : r.lines)
            std::printf("  %s\n", l.c_str());
        std::printf("%s\n", r.ok ? "verified: the model and data are the ones recorded" : "NOT the recorded model or data");
    }
    return r.ok ? 0 : 1;
}

} // namespace cli
