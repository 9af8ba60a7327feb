#include "http_helpers.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "maskterial/serve/http_error.hpp"

namespace maskterial::serve {
namespace {

// A plain decimal number: strtod alone would also take hexadecimal ("0x10" = 16), "inf", "nan" and spaces.
bool is_decimal(const std::string& text) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string shortest(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

std::string base64_encode(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (two ? uint8_t(bytes[i + 1]) << 8 : 0);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += two ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // Replacement characters instead of an exception for invalid UTF-8 in client-chosen names.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

void handle(httplib::Response& res, const std::function<void()>& route) {
  try {
    route();
  } catch (const HttpError& e) {
    send_error(res, e.status(), e.what());
  } catch (const Error& e) {
    send_error(res, 400, e.what());
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    send_error(res, 500, "internal error: " + without_backtrace(e.what()));
  }
}

std::string without_backtrace(const std::string& message) {
  // libtorch (c10::Error) appends "Exception raised from <function> at <file>:<line> (most recent call first):"
  // and one "frame #N: <address> ..." line per stack frame; wrapped messages carry it along.
  size_t cut = message.size();
  for (const char* marker : {"Exception raised from", "frame #"}) cut = std::min(cut, message.find(marker));
  std::string out = message.substr(0, cut);
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

httplib::Request read_capped(const httplib::Request& req, const httplib::ContentReader& reader, size_t cap,
                             const std::string& what) {
  httplib::Request out = req;
  size_t received = 0;
  bool too_large = false;
  const auto take = [&](size_t n) {
    received += n;
    too_large = too_large || received > cap;
    return received <= cap + kDrainLimit;  // false ends the connection
  };
  std::string current;  // the multipart part being received
  httplib::MultipartFormData part;
  bool have_part = false;
  const auto finish_part = [&] {
    if (have_part && !too_large) {
      part.content = std::move(current);
      out.files.emplace(part.name, part);
    }
    current.clear();
  };
  if (req.is_multipart_form_data()) {
    reader(
        [&](const httplib::MultipartFormData& header) {
          finish_part();
          part = header;
          have_part = true;
          return true;
        },
        [&](const char* data, size_t n) {
          if (!take(n)) return false;
          if (!too_large) current.append(data, n);
          return true;
        });
    finish_part();
  } else {
    reader([&](const char* data, size_t n) {
      if (!take(n)) return false;
      if (!too_large) out.body.append(data, n);
      return true;
    });
  }
  if (too_large) {
    out.files.clear();
    out.body.clear();
    throw HttpError(413, what + " may be at most " + std::to_string(cap >> 20) + " MiB; this one has " +
                             std::to_string(received >> 20) + " MiB or more");
  }
  return out;
}

std::optional<std::string> form_field(const httplib::Request& req, const std::string& name) {
  const auto part = req.files.find(name);
  if (part != req.files.end()) {
    if (!part->second.filename.empty()) throw HttpError(400, "form field '" + name + "' must be text, not a file");
    return part->second.content;
  }
  if (req.has_param(name)) return req.get_param_value(name);
  return std::nullopt;
}

std::string text_field(const httplib::Request& req, const std::string& name, const std::string& fallback) {
  const auto text = form_field(req, name);
  return text && !text->empty() ? *text : fallback;
}

double number_field(const httplib::Request& req, const std::string& name, double fallback, double min, double max) {
  const auto text = form_field(req, name);
  if (!text || text->empty()) return fallback;
  errno = 0;
  const double value = is_decimal(*text) ? std::strtod(text->c_str(), nullptr) : NAN;
  if (errno != 0 || !std::isfinite(value))
    throw HttpError(400, "form field '" + name + "': '" + *text + "' is not a number");
  if (value < min || value > max)
    throw HttpError(400, "form field '" + name + "': " + *text + " is outside [" + shortest(min) + ", " +
                             shortest(max) + "]");
  return value;
}

bool flag_field(const httplib::Request& req, const std::string& name) {
  const auto text = form_field(req, name);
  if (!text) return false;
  const std::string value = lower(*text);
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value.empty() || value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw HttpError(400, "form field '" + name + "': '" + *text + "' is neither yes (1, true, yes, on) nor no (0, false, no, off)");
}

nlohmann::json json_body(const httplib::Request& req, bool allow_empty) {
  if (req.body.empty() && allow_empty) return nlohmann::json::object();
  try {
    nlohmann::json body = nlohmann::json::parse(req.body);
    if (!body.is_object()) throw HttpError(400, "the request body must be a JSON object");
    return body;
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
}

std::string string_member(const nlohmann::json& body, const std::string& key, const std::string& fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_string()) throw HttpError(400, "\"" + key + "\" must be a string");
  return body[key];
}

}  // namespace maskterial::serve
