// Provenance JSON (recorded in recipes and exports): parsing and the round trip through
// toJson.
#include "bonsai/provenance.h"
#include "fuzz_input.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string text(reinterpret_cast<const char*>(data), size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        const bonsai::Provenance p = bonsai::Provenance::fromJson(text, "provenance.json");
        (void)bonsai::Provenance::fromJson(p.toJson(), "provenance.json (written back)");
    });
    return 0;
}
