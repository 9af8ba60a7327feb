#pragma once
// An error a client caused, with the HTTP status the server answers it with. The message is shown to the
// client as is, so it names the field, file or model at fault.
#include <string>

#include "maskterial/util/error.hpp"

namespace maskterial::serve {

class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace maskterial::serve
