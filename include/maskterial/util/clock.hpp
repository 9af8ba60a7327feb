#pragma once
#include <string>

namespace maskterial {

// The current time in UTC as ISO 8601, "2026-12-06T01:36:28Z": what records and job listings show.
std::string utc_now();

}  // namespace maskterial
