#pragma once
// What the server takes from an upload's form: the model files (one multipart field per file, named like the
// file). The names are checked where they become file names (check_file_name, model_store.hpp).
#include <httplib.h>

#include "maskterial/serve/model_store.hpp"

namespace maskterial::serve {

// The files of a model upload, moved out of `req`: every multipart field but "overwrite", or the body as
// gmm.json when it is application/json (a single 2DMatGMM parameter file). HttpError 415 for anything else.
ModelFiles model_files_of(httplib::Request& req);

}  // namespace maskterial::serve
