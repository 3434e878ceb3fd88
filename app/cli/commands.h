#pragma once
// bonsai-cli sub-commands. Each takes the arguments after the command name and returns the
// process exit code; errors are thrown (bonsai::Error) or reported through UsageError.
#include <stdexcept>
#include <string>
#include <vector>

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

// Small argument helpers: flags are "--name" or "--name VALUE".
bool takeFlag(Args& args, const std::string& name);
bool takeOption(Args& args, const std::string& name, std::string& value);
void expectPositional(const Args& args, size_t count, const char* usage);

} // namespace cli
