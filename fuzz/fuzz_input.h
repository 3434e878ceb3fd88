#pragma once
// What every harness shares: the input as a file (the readers take paths and memory-map them),
// and the rule that the only acceptable failure is a bonsai::Error. Any other exception (a raw
// std::out_of_range, std::bad_alloc, "stoi") would reach the user as unexplained text, so it
// aborts and libFuzzer reports it as a crash.
#include "bonsai/error.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

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

// Runs `f`; a bonsai::Error is an accepted refusal, anything else aborts.
template <class F>
void expectOnlyBonsaiErrors(F&& f)
{
    try {
        f();
    } catch (const bonsai::Error& e) {
        // BONSAI_FUZZ_VERBOSE=1 shows the refusals (to see how deep the seeds get).
        static const bool verbose = std::getenv("BONSAI_FUZZ_VERBOSE") != nullptr;
        if (verbose)
            std::fprintf(stderr, "refused: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "raw exception escaped: %s\n", e.what());
        std::abort();
    }
}

} // namespace bonsai::fuzz
