#pragma once
// What every harness shares: the input as a file (the readers take paths and memory-map them),
// and the rule that the only acceptable failure is a bonsai::Error. Any other exception (a raw
// std::out_of_range, std::bad_alloc, "stoi") would reach the user as unexplained text, so it
// aborts and libFuzzer reports it as a crash.
#include "bonsai/error.h"
#include "bonsai/model.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace bonsai::fuzz {

// A folder of this process's own under the temporary directory, removed at exit.
inline const std::filesystem::path& workDir()
{
    static const std::filesystem::path dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                                  ("bonsai-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(workDir(), ec);
        });
        return d;
    }();
    return dir;
}

// Writes `size` bytes to workDir()/name (replacing it) and returns the path.
inline std::string writeInput(const std::string& name, const uint8_t* data, size_t size)
{
    std::filesystem::path p = workDir() / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    return p.string();
}

// The input being run, noted by each harness first: a refusal may quote it (nlohmann's parse
// errors show what they last read), so text found in the input is no sign of a raw exception.
inline std::string_view& currentInput()
{
    static std::string_view input;
    return input;
}
inline void noteInput(const uint8_t* data, size_t size)
{
    currentInput() = std::string_view(reinterpret_cast<const char*>(data), size);
}

// Removes every file of workDir() (a harness that writes several files starts each input
// from an empty folder, so that no file of an earlier input is read).
inline void clearWorkDir()
{
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(workDir(), ec))
        std::filesystem::remove_all(e.path(), ec);
}

// The parts of an input that stands for several files: the bytes between occurrences of
// kPartSeparator (in the harnesses' dictionaries too). One part when there is none.
inline constexpr std::string_view kPartSeparator = "\n#PART#\n";
inline std::vector<std::string> splitParts(const uint8_t* data, size_t size)
{
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const size_t at = all.find(kPartSeparator, start);
        if (at == std::string_view::npos) {
            parts.emplace_back(all.substr(start));
            return parts;
        }
        parts.emplace_back(all.substr(start, at - start));
        start = at + kPartSeparator.size();
    }
}

// Writes `bytes` to workDir()/name and returns the path.
inline std::string writeInput(const std::string& name, const std::string& bytes)
{
    return writeInput(name, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Whether `text` occurs in the input: the bytes noted by noteInput or a file the harness
// wrote into workDir() (a refusal may quote a name from the file, such as a zip member's).
inline bool inputMentions(std::string_view text)
{
    if (currentInput().find(text) != std::string_view::npos)
        return true;
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(workDir(), ec)) {
        if (!e.is_regular_file(ec))
            continue;
        std::ifstream in(e.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.find(text) != std::string::npos)
            return true;
    }
    return false;
}

// Runs `f`; a bonsai::Error is an accepted refusal (unless its message carries a library's
// raw exception text that the input does not hold), anything else aborts.
template <class F>
void expectOnlyBonsaiErrors(F&& f)
{
    try {
        f();
    } catch (const bonsai::Error& e) {
        // A refusal must explain itself: no library text that means nothing to the user.
        const std::string_view what = e.what();
        static const bool verbose = std::getenv("BONSAI_FUZZ_VERBOSE") != nullptr;
        if (verbose) // for checking that seeds are accepted: replay_<name> with it set
            std::fprintf(stderr, "refused: %s\n", e.what());
        for (const char* raw : {"[json.exception", "stoi", "stol", "stoull", "_M_range_check",
                                "bad_alloc", "vector::", "basic_string::", "out_of_range"})
            if (what.find(raw) != std::string_view::npos && !inputMentions(raw)) {
                std::fprintf(stderr, "refusal carries raw library text (%s): %s\n", raw, e.what());
                std::abort();
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "raw exception escaped: %s\n", e.what());
        std::abort();
    }
}

// Reads every tensor of up to 2^20 elements as floats (dequantizing blocks, converting types).
inline void readSmallTensors(const Model& model)
{
    for (size_t i = 0; i < model.tensors.size(); ++i)
        if (model.tensors[i].numel <= (1u << 20))
            model.readFloat(static_cast<int>(i));
}

} // namespace bonsai::fuzz
