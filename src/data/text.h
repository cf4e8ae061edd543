// Text hygiene for corpus building: UTF-8 validation/repair and binary detection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace harpe::data {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Replaces every maximal ill-formed subsequence by U+FFFD (one per invalid byte); returns how many
// replacements were made. Valid input is returned unchanged.
std::size_t repair_utf8(std::string& s);

// A file looks binary when its first 8 KiB hold a NUL byte.
bool looks_binary(std::string_view head);

// 64-bit FNV-1a of the bytes: the stable hash behind split assignment (never changes across
// platforms or versions, unlike std::hash).
std::uint64_t fnv1a64(std::string_view s);

}  // namespace harpe::data
