// Reading a user-named text file (config.json, a prompt, an essay, results.json) with limits: only
// a regular file is read (a device such as /dev/urandom would be read until memory runs out, a
// FIFO would block forever), and only up to a size limit, checked before and while reading.
#pragma once

#include <cstddef>
#include <string>

namespace harpe::io {

// Size limits of the files the commands read (docs/formats.md lists them).
inline constexpr std::size_t kConfigFileLimit = std::size_t{4} << 20;  // config.json: 4 MiB
// model.safetensors.index.json: 64 MiB (a model of 100k tensors needs ~10 MB).
inline constexpr std::size_t kIndexFileLimit = std::size_t{64} << 20;
inline constexpr std::size_t kTextFileLimit = std::size_t{256} << 20;   // prompts, essays: 256 MiB
inline constexpr std::size_t kResultsFileLimit = std::size_t{1} << 30;  // results.json: 1 GiB

// The whole file. Throws harpe::Error, one line starting with "WHAT PATH: ", when the path is
// missing or unreadable, is not a regular file (directory, device, FIFO, socket), or holds more
// than max_bytes. `what` names the flag or the role ("--prompt-file", "config").
std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what);

}  // namespace harpe::io
