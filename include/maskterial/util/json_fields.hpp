#pragma once
// Optional, typed fields of JSON configuration: absent keys keep the caller's default, present keys must
// have the right JSON type (a string where a number belongs is an error, not a silent conversion).
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "maskterial/util/error.hpp"

namespace maskterial {

// Reads json[key] into out if json is an object holding key. Throws Error naming source and "section.key".
template <class T>
void read_json_field(const nlohmann::json& json, const char* key, T& out, const std::string& source,
                     const std::string& section = "") {
  if (!json.is_object() || !json.contains(key)) return;
  const nlohmann::json& value = json.at(key);
  const bool ok = std::is_same_v<T, bool>          ? value.is_boolean()
                  : std::is_same_v<T, std::string> ? value.is_string()
                  : std::is_integral_v<T>          ? value.is_number_integer() && (std::is_signed_v<T> || value >= 0)
                                                   : value.is_number();
  if (!ok) throw file_error(source, "'" + (section.empty() ? "" : section + ".") + key + "' has the wrong type");
  out = value.get<T>();
}

}  // namespace maskterial
