#pragma once
// A scan's candidates as JSON (the API's and the export's form), CSV for spreadsheets and the transfer stage,
// or a COCO dataset with the masks, for training and evaluation.
#include <string>

#include <nlohmann/json.hpp>

#include "maskterial/store/scan_store.hpp"

namespace maskterial::store {

// The API's candidate object (docs/scan.md); with_shape adds "segmentation" (COCO RLE) and "evidence".
nlohmann::json candidate_to_json(const Candidate& candidate, double um_per_px, bool with_shape = false);
// The API's scan object without the job state (the server adds "state", "progress", "error").
nlohmann::json scan_to_json(const ScanInfo& scan, const ScanCounts& counts);

enum class ExportFormat { Csv, Json, Coco };
ExportFormat parse_export_format(const std::string& name);  // csv, json, coco; Error otherwise
const char* content_type(ExportFormat format);

// Every candidate of the scan (or the accepted ones), best score first.
std::string export_scan(ScanStore& store, const ScanInfo& scan, ExportFormat format, bool accepted_only);

}  // namespace maskterial::store
