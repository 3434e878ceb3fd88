#pragma once
// Errors raised by the core. Every message names the file (when there is one) and the fault.
#include <stdexcept>
#include <string>

namespace bonsai {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Error about a file: "<path>: <fault>".
class FileError : public Error {
public:
    FileError(const std::string& path, const std::string& fault)
        : Error(path + ": " + fault), path_(path), fault_(fault) {}
    const std::string& path() const { return path_; }
    const std::string& fault() const { return fault_; }

private:
    std::string path_;
    std::string fault_;
};

} // namespace bonsai
