# Installation and the Debian package (scripts/package.sh: cpack -G DEB). The install layout is the package's:
# programs in /usr/bin, shipped models in /usr/share/maskterial/models (found from the program's own path,
# src/core/shipped_models.cpp), documentation in /usr/share/doc/maskterial, the server's systemd unit
# (installed, not enabled) reading its settings from /etc/maskterial/serve.conf, a conffile.
# The package's prefix is fixed, whatever a build tree's CMAKE_INSTALL_PREFIX; a new build tree installs there too.
set(MASKTERIAL_PACKAGE_PREFIX /usr)
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX ${MASKTERIAL_PACKAGE_PREFIX} CACHE PATH "Install prefix (the Debian package's)" FORCE)
endif()
include(GNUInstallDirs)

set(MASKTERIAL_MODELS_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/maskterial/models)
file(RELATIVE_PATH MASKTERIAL_MODELS_FROM_BIN ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_PREFIX}/${MASKTERIAL_MODELS_INSTALL_DIR})
# Only this file needs it: a definition on the whole library would change every compile command.
set_property(SOURCE ${PROJECT_SOURCE_DIR}/src/core/shipped_models.cpp APPEND PROPERTY COMPILE_DEFINITIONS
             MASKTERIAL_INSTALLED_MODELS="${MASKTERIAL_MODELS_FROM_BIN}")

install(TARGETS maskterial maskterial_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${MASKTERIAL_MODELS_INSTALL_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# The unit names the package's paths (/usr/bin/maskterial, /etc/maskterial/serve.conf).
set(MASKTERIAL_CONF_DIR /etc/maskterial)
set(MASKTERIAL_SERVE_CONF ${MASKTERIAL_CONF_DIR}/serve.conf)
set(MASKTERIAL_INSTALLED_BINDIR ${MASKTERIAL_PACKAGE_PREFIX}/${CMAKE_INSTALL_BINDIR})
set(MASKTERIAL_INSTALLED_DOCDIR ${MASKTERIAL_PACKAGE_PREFIX}/${CMAKE_INSTALL_DOCDIR})
configure_file(${PROJECT_SOURCE_DIR}/packaging/maskterial.service.in ${CMAKE_BINARY_DIR}/packaging/maskterial.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/maskterial.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/serve.conf DESTINATION ${MASKTERIAL_CONF_DIR})
# dpkg keeps an edited conffile on upgrades instead of overwriting it.
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "${MASKTERIAL_SERVE_CONF}\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME maskterial)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${MASKTERIAL_PACKAGE_PREFIX})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "find 2D-material flakes in optical microscope images")
# The control file's extended description (CPack indents its lines; the summary is the first line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "maskterial finds flakes of graphene, hBN, WSe2 and other 2D materials in optical
microscope images and classifies their layer count: a command line tool (maskterial detect,
train-classifier, finetune, ...) and an inference server with a web page (maskterial serve; systemd unit
maskterial.service, installed but not enabled).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # maskterial_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "maskterial developers <maskterial@localhost>")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends computed from the programs' libraries by dpkg-shlibdeps
# libtorch takes any BLAS; OpenBLAS's pthread build is the one maskterial tunes (util/blas_runtime.hpp).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS libopenblas0-pthread)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_STRIP_FILES ON)
# cpack builds only what it installs (scripts/package.sh builds the `maskterial` target first), not every tool,
# test and benchmark of the build tree.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
include(CPack)
