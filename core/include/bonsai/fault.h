#pragma once
// The user sees faults in words, never an exception's raw text (bonsai::Error's messages
// already name the file and the fault).
#include <exception>
#include <string>

namespace bonsai {

// The fault of an exception that is no bonsai::Error, in words: std::bad_alloc is "not enough
// memory <doing> (a tensor or table larger than memory?)"; std::length_error,
// std::out_of_range, std::invalid_argument, a system error and anything else each get a
// sentence of their own. `doing` says what failed ("to load"); may be empty.
std::string faultInWords(const std::exception& e, const std::string& doing = {});

// What to tell the user when `e` escaped while working on `path`: a bonsai::Error's own
// message, otherwise "<path>: <faultInWords>" (without a path: the fault alone).
std::string userMessage(const std::exception& e, const std::string& path, const std::string& doing = {});

} // namespace bonsai
