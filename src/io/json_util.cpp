#include "io/json_util.h"

#include <cmath>

#include "core/error.h"

namespace harpe::io {

std::string printable(std::string_view s) {
  std::string out = "\"";
  for (char ch : s.substr(0, 200)) {
    auto c = static_cast<unsigned char>(ch);
    out += (c < 0x20 || c == 0x7f) ? '?' : ch;
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

const char* json_type_name(const Json& v) { return v.type_name(); }

Json parse_json(std::string_view text, const std::string& source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    std::string what = e.what();
    // nlohmann's message is one line already; keep only the part after "[json.exception...] ".
    auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    for (char& c : what)  // hostile input is echoed in "last read: ..."; keep the message one line
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    fail(source, ": invalid JSON: ", what);
  }
}

std::int64_t as_int(const Json& v, const std::string& what) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      fail(what, " is out of range");
    return v.get<std::int64_t>();
  }
  if (v.is_number_float()) {  // 4096.0 is accepted as an integer, 4096.5 is not
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return static_cast<std::int64_t>(d);
    fail(what, " must be an integer, got ", d);
  }
  fail(what, " must be an integer, got ", v.type_name());
}

double as_double(const Json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  fail(what, " must be a number, got ", v.type_name());
}

namespace {

const Json* find(const Json& obj, const char* key, const std::string& where) {
  if (!obj.is_object()) fail(where, ": expected a JSON object, got ", obj.type_name());
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string name(const char* key, const std::string& where) { return where + ": \"" + key + "\""; }

}  // namespace

std::int64_t json_int(const Json& obj, const char* key, const std::string& where) {
  const Json* v = find(obj, key, where);
  if (!v) fail(where, ": missing key \"", key, "\"");
  return as_int(*v, name(key, where));
}

std::int64_t json_int_or(const Json& obj, const char* key, std::int64_t def,
                         const std::string& where) {
  const Json* v = find(obj, key, where);
  return v ? as_int(*v, name(key, where)) : def;
}

double json_double(const Json& obj, const char* key, const std::string& where) {
  const Json* v = find(obj, key, where);
  if (!v) fail(where, ": missing key \"", key, "\"");
  return as_double(*v, name(key, where));
}

double json_double_or(const Json& obj, const char* key, double def, const std::string& where) {
  const Json* v = find(obj, key, where);
  return v ? as_double(*v, name(key, where)) : def;
}

bool json_bool_or(const Json& obj, const char* key, bool def, const std::string& where) {
  const Json* v = find(obj, key, where);
  if (!v) return def;
  if (!v->is_boolean()) fail(name(key, where), " must be true or false, got ", v->type_name());
  return v->get<bool>();
}

std::string json_string(const Json& obj, const char* key, const std::string& where) {
  const Json* v = find(obj, key, where);
  if (!v) fail(where, ": missing key \"", key, "\"");
  if (!v->is_string()) fail(name(key, where), " must be a string, got ", v->type_name());
  return v->get<std::string>();
}

std::string json_string_or(const Json& obj, const char* key, const std::string& def,
                           const std::string& where) {
  const Json* v = find(obj, key, where);
  if (!v) return def;
  if (!v->is_string()) fail(name(key, where), " must be a string, got ", v->type_name());
  return v->get<std::string>();
}

}  // namespace harpe::io
