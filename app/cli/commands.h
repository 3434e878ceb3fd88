#pragma once
// bonsai-cli sub-commands. Each takes the arguments after the command name and returns the
// process exit code; errors are thrown (bonsai::Error) or reported through UsageError.
#include "bonsai/layer_config.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace bonsai {
class Model;
}

namespace cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using Args = std::vector<std::string>;

int cmdInfo(const Args& args);
int cmdTensor(const Args& args);
int cmdStats(const Args& args);
int cmdCompress(const Args& args);
int cmdEval(const Args& args);
int cmdTrain(const Args& args);
int cmdRecover(const Args& args);
int cmdPpl(const Args& args);
int cmdExport(const Args& args);
int cmdVerify(const Args& args);
int cmdSearch(const Args& args);
int cmdSpeed(const Args& args);

// Per-layer configurations from --recipe R.json or --preset KEY (at most one of them).
// "--preset help" sets listPresets: the command prints printPresets() and exits 0.
struct ConfigSource {
    std::string recipePath, preset;
    bool listPresets = false;
};
ConfigSource takeConfigSource(Args& args); // UsageError for both options or an unknown preset
int printPresets();
// The configurations (identity for every layer when neither option was given); recipe
// warnings are printed as "bonsai-cli COMMAND: warning: ..." and returned in `warnings`.
std::vector<bonsai::LayerConfig> resolveConfigs(const ConfigSource& source, const bonsai::Model& model,
                                                const char* command, std::vector<std::string>* warnings = nullptr);

// Small argument helpers: flags are "--name" or "--name VALUE".
bool takeFlag(Args& args, const std::string& name);
bool takeOption(Args& args, const std::string& name, std::string& value);
void expectPositional(const Args& args, size_t count, const char* usage);
// A whole number in [lo, hi] given to `option` (UsageError naming the option otherwise).
long long wholeNumber(const std::string& option, const std::string& value, long long lo, long long hi);

} // namespace cli
