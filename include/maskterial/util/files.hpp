#pragma once
// File helpers. Every output goes through write_file_atomic: a crash or a full disk never leaves a
// half-written result where a user (or their scanning software) would read it.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace maskterial {

// Reads a whole file; every file the program reads by name is read here. Only regular files: a FIFO, socket or
// device is refused, and opening never blocks (a FIFO would wait for a writer forever). Throws Error naming the
// file and the problem: no such file, a symbolic link loop, a folder, not a regular file, permission denied.
std::string read_file(const std::string& path);

// Parses a JSON file; throws Error naming the file and the parse position on malformed input.
nlohmann::json read_json(const std::string& path);
// Same, keeping the key order of the file (GMM parameter files order their classes by it).
nlohmann::ordered_json read_ordered_json(const std::string& path);

// Writes to a unique "<path>.tmp-XXXXXX" (mkstemp), fsyncs it, renames it over path and fsyncs the folder, so
// after a crash path holds the old or the new content, whole. Throws Error on failure and removes the temp file.
void write_file_atomic(const std::string& path, const std::string& content);
void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent = 1);
// The text write_json_atomic writes: the JSON with `indent` and a final newline.
std::string json_text(const nlohmann::json& value, int indent = 1);
void write_json_atomic(const std::string& path, const nlohmann::ordered_json& value, int indent = 1);

// Removes the temporaries ("<name>.tmp-XXXXXX") write_file_atomic of a killed process left in dir (files only, not recursive); returns how many. Only for
// folders no other process is writing into at the same time (an output folder at the start of a run).
size_t remove_stale_temporaries(const std::string& dir);

// Fills a fresh sibling directory "<dir>.tmp-XXXXXX" with `fill`, then puts it in dir's place with
// move_directory_into_place. A model directory is therefore either whole or absent, the old or the new one.
void write_directory_atomic(const std::string& dir, const std::function<void(const std::string& tmp_dir)>& fill);

// Puts the complete directory `fresh` at `target`: an existing target is exchanged with it in one step
// (renameat2 RENAME_EXCHANGE, so there is no moment without a target) and the old one removed; where the file
// system cannot exchange, the old one is moved aside first. Throws Error naming target.
void move_directory_into_place(const std::string& fresh, const std::string& target);

// Encodes an image with OpenCV (format from the extension) and writes it atomically.
void write_image_atomic(const std::string& path, const cv::Mat& image);

// Expands files and folders (non-recursive for folders, image extensions only), sorted by name.
std::vector<std::string> list_images(const std::vector<std::string>& inputs);

bool has_image_extension(const std::string& path);

// "fnv1a64:<16 hex digits>" over the names and contents of a directory's regular files (sorted by name), or
// of one file: which model produced a result, recorded next to it. Throws Error naming an unreadable file.
std::string content_hash(const std::string& path);
// The same over files given as (name, content), in the order given.
std::string content_hash(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace maskterial
