#pragma once
// Small pieces of request and response handling shared by the server's routes.
#include <functional>
#include <optional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace maskterial::serve {

std::string base64_encode(const std::string& bytes);

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& message);

// Runs a route, turning HttpError into its status, other maskterial::Error into 400 and anything else into
// 500, always with a JSON body {"error": message}. No exception leaves it.
void handle(httplib::Response& res, const std::function<void()>& route);

// An error message as clients see it: without the stack trace libtorch appends (runtime addresses, source
// paths), which belongs in the log only.
std::string without_backtrace(const std::string& message);

// The request with its body read through httplib's content reader (req.body, or req.files for multipart),
// keeping at most `cap` bytes. A larger body is still read to its end and dropped, so that a client that is
// still sending gets to read the answer, then HttpError 413 is thrown; beyond cap + kDrainLimit the
// connection is dropped instead.
constexpr size_t kDrainLimit = size_t{64} << 20;
httplib::Request read_capped(const httplib::Request& req, const httplib::ContentReader& reader, size_t cap,
                             const std::string& what);

// A plain form field (multipart part without a file name) or, failing that, a query parameter.
std::optional<std::string> form_field(const httplib::Request& req, const std::string& name);
// The same, with `fallback` when the field is absent or empty.
std::string text_field(const httplib::Request& req, const std::string& name, const std::string& fallback);
// Parsed numeric fields; HttpError 400 naming the field if malformed or outside [min, max].
double number_field(const httplib::Request& req, const std::string& name, double fallback, double min, double max);
// Yes: "1", "true", "yes", "on"; no: absent, "", "0", "false", "no", "off" (any case); else HttpError 400.
bool flag_field(const httplib::Request& req, const std::string& name);

// The request body as a JSON object (an empty body is {} when allow_empty); HttpError 400 otherwise.
nlohmann::json json_body(const httplib::Request& req, bool allow_empty);
// A string member of a JSON body, fallback when absent or null; HttpError 400 naming it when not a string.
std::string string_member(const nlohmann::json& body, const std::string& key, const std::string& fallback);

}  // namespace maskterial::serve
