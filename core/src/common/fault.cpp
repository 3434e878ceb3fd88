#include "bonsai/fault.h"

#include "bonsai/error.h"

#include <new>
#include <system_error>

namespace bonsai {

std::string faultInWords(const std::exception& e, const std::string& doing)
{
    const std::string d = doing.empty() ? std::string() : " " + doing;
    if (dynamic_cast<const std::bad_alloc*>(&e))
        return "not enough memory" + d + " (a tensor or table larger than memory?)";
    if (dynamic_cast<const std::length_error*>(&e))
        return "a size too large to hold" + d + " (a length or count in the file beyond what memory can hold?)";
    if (dynamic_cast<const std::out_of_range*>(&e))
        return "an index or number out of range" + d + " (a corrupt or inconsistent entry?)";
    if (dynamic_cast<const std::invalid_argument*>(&e))
        return "a malformed number or value" + d;
    if (const auto* s = dynamic_cast<const std::system_error*>(&e))
        return "a system error" + d + ": " + s->code().message();
    if (dynamic_cast<const std::range_error*>(&e) || dynamic_cast<const std::overflow_error*>(&e) ||
        dynamic_cast<const std::underflow_error*>(&e))
        return "a number out of range" + d;
    return "an unexpected internal fault" + d + " (please report it with the file)";
}

std::string userMessage(const std::exception& e, const std::string& path, const std::string& doing)
{
    if (dynamic_cast<const Error*>(&e))
        return e.what();
    return path.empty() ? faultInWords(e, doing) : path + ": " + faultInWords(e, doing);
}

} // namespace bonsai
