#pragma once
// libjpeg reports errors through a callback that must not return: it jumps back to the caller's setjmp, with
// the library's message kept for the error the caller throws. Warnings (extraneous bytes, ...) are ignored, as
// OpenCV's codec ignores them.
#include <csetjmp>

#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>

namespace maskterial {

struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// Installs `errors` as the error manager of a (de)compressor; call before jpeg_create_*.
inline jpeg_error_mgr* jpeg_errors_jumping_back(JpegErrors& errors) {
  jpeg_error_mgr* manager = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = [](j_common_ptr common) {
    auto* e = reinterpret_cast<JpegErrors*>(common->err);
    (*common->err->format_message)(common, e->message);
    std::longjmp(e->jump, 1);
  };
  errors.manager.emit_message = [](j_common_ptr, int) {};
  return manager;
}

}  // namespace maskterial
