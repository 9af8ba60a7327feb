#pragma once
// The files of web/ (page, scripts, styles, OpenAPI description), compiled into the library by
// cmake/embed_web.cmake so the server needs nothing next to the binary and works offline.
#include <string_view>
#include <vector>

namespace maskterial::serve {

struct WebAsset {
  std::string_view path;     // relative to web/, e.g. "index.html"
  std::string_view content;
};

const std::vector<WebAsset>& web_assets();

}  // namespace maskterial::serve
