// Typed access to JSON objects with one-line errors that name the key and where it was read
// ("config.json: rope_scaling.factor must be a number, got string").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace harpe::io {

// A name read from a file, for an error message: quoted, control characters as '?', at most 200
// characters then "...", so the message stays one bounded line.
std::string printable(std::string_view s);

using Json = nlohmann::json;

// Parses text; throws harpe::Error "<source>: invalid JSON: ..." on a syntax error.
Json parse_json(std::string_view text, const std::string& source);

// `where` prefixes messages, e.g. "config.json" or "config.json: rope_scaling".
// Required keys: throw if missing, null or ill-typed. *_or: default when missing or null.
std::int64_t json_int(const Json& obj, const char* key, const std::string& where);
std::int64_t json_int_or(const Json& obj, const char* key, std::int64_t def,
                         const std::string& where);
double json_double(const Json& obj, const char* key, const std::string& where);
double json_double_or(const Json& obj, const char* key, double def, const std::string& where);
bool json_bool_or(const Json& obj, const char* key, bool def, const std::string& where);
std::string json_string(const Json& obj, const char* key, const std::string& where);
std::string json_string_or(const Json& obj, const char* key, const std::string& def,
                           const std::string& where);

// Value checks usable on array elements: `what` names the value ("rope_scaling.bases[3]").
std::int64_t as_int(const Json& v, const std::string& what);
double as_double(const Json& v, const std::string& what);

const char* json_type_name(const Json& v);

}  // namespace harpe::io
