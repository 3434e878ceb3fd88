#include "commands.h"

#include <algorithm>

namespace cli {

bool takeFlag(Args& args, const std::string& name)
{
    auto it = std::find(args.begin(), args.end(), name);
    if (it == args.end())
        return false;
    args.erase(it);
    return true;
}

bool takeOption(Args& args, const std::string& name, std::string& value)
{
    auto it = std::find(args.begin(), args.end(), name);
    if (it == args.end())
        return false;
    if (it + 1 == args.end())
        throw UsageError(name + " needs a value");
    value = *(it + 1);
    args.erase(it, it + 2);
    return true;
}

void expectPositional(const Args& args, size_t count, const char* usage)
{
    for (const auto& a : args)
        if (a.size() > 1 && a[0] == '-' && a[1] == '-')
            throw UsageError("unknown option " + a + "\nusage: " + usage);
    if (args.size() != count)
        throw UsageError(std::string("expected ") + std::to_string(count) + " argument(s)\nusage: " + usage);
}

long long wholeNumber(const std::string& option, const std::string& value, long long lo, long long hi)
{
    try {
        size_t used = 0;
        const long long v = std::stoll(value, &used);
        if (used == value.size() && v >= lo && v <= hi)
            return v;
    } catch (const std::exception&) {
    }
    throw UsageError(option + " takes a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                     ", not '" + value + "'");
}

} // namespace cli
