# The server library: cpp-httplib (Debian's shared build, so its compile flags come from
# pkg-config) and the web page compiled in from web/.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
target_link_libraries(maskterial_serve PUBLIC PkgConfig::HTTPLIB)

file(GLOB_RECURSE MASKTERIAL_WEB_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/web/*)
set(MASKTERIAL_WEB_CPP ${CMAKE_BINARY_DIR}/generated/web_assets.cpp)
add_custom_command(
  OUTPUT ${MASKTERIAL_WEB_CPP}
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${PROJECT_SOURCE_DIR}/web -DOUTPUT=${MASKTERIAL_WEB_CPP}
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_web.cmake
  DEPENDS ${MASKTERIAL_WEB_FILES} ${PROJECT_SOURCE_DIR}/cmake/embed_web.cmake
  COMMENT "Embedding web/ into the server")
target_sources(maskterial_serve PRIVATE ${MASKTERIAL_WEB_CPP})
target_include_directories(maskterial_serve PRIVATE ${PROJECT_SOURCE_DIR}/src/serve)
