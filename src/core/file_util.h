// Whole-file reads with a size cap and clear errors (a missing file, a folder, an unreadable file).
#pragma once
#include <cstdint>
#include <string>

namespace ef {

// Throws kIo naming `path` when it does not exist, is not a regular file, or cannot be read; kOutOfMemory when it
// is larger than `max_bytes`.
std::string read_file_bytes(const std::string& path, uint64_t max_bytes);
void write_file_bytes(const std::string& path, const std::string& bytes);

}  // namespace ef
