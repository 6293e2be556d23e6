# Debian packages with CPack (`cpack -G DEB` in the build tree; scripts/test-install.sh builds,
# checks and lints them), split the way Debian splits a library:
#   libsoftndk0      the runtime library (component runtime)
#   libsoftndk-dev   headers, libsoftndk.so, CMake package, softndk.pc, section 3 man pages,
#                    examples (component dev); depends on libsoftndk0 of the same version
#   softndk-tools    softndk, softndk-conformance, section 1 man pages, bash completion
#                    (component tools); depends on libsoftndk0 of the same version
# Other dependencies (libc6, libstdc++6, libisal2...) come from dpkg-shlibdeps.
get_target_property(_softndk_soversion softndk SOVERSION)
set(SOFTNDK_DEB_RUNTIME "libsoftndk${_softndk_soversion}")
set(SOFTNDK_DEB_REVISION 1 CACHE STRING "Debian revision of the packages (the -N of 0.1.0-N)")
set(SOFTNDK_PACKAGE_MAINTAINER "softndk developers <dev@softndk.invalid>" CACHE STRING
    "Maintainer field of the Debian packages")
set(SOFTNDK_DEB_VERSION "${PROJECT_VERSION}-${SOFTNDK_DEB_REVISION}")

# ---- files every Debian package carries (/usr/share/doc/<package>/copyright and
# changelog.Debian.gz). EXCLUDE_FROM_ALL: installed only by component installs (what CPack does),
# not by a plain `cmake --install`.
find_program(SOFTNDK_GZIP gzip)
set(_deb_doc ${PROJECT_BINARY_DIR}/packaging/debian)
# packaging/debian/changelog is written by hand, one entry per released version; its latest
# entry must name the version being packaged.
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog _deb_changelog_top LIMIT_COUNT 1)
if(NOT _deb_changelog_top MATCHES "^softndk \\(${SOFTNDK_DEB_VERSION}\\) ")
  message(AUTHOR_WARNING "packaging/debian/changelog: the latest entry is not version "
    "${SOFTNDK_DEB_VERSION} (${_deb_changelog_top}); add an entry before building packages")
endif()
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog ${_deb_doc}/changelog COPYONLY)
if(SOFTNDK_GZIP)
  add_custom_command(OUTPUT ${_deb_doc}/changelog.Debian.gz
    COMMAND ${SOFTNDK_GZIP} -9nc ${_deb_doc}/changelog > ${_deb_doc}/changelog.Debian.gz
    DEPENDS ${_deb_doc}/changelog VERBATIM)
  add_custom_target(softndk_deb_changelog ALL DEPENDS ${_deb_doc}/changelog.Debian.gz)
  set(_deb_components runtime dev)
  if(TARGET softndk-cli OR TARGET softndk-conformance)
    list(APPEND _deb_components tools)
  endif()
  set(_deb_name_runtime ${SOFTNDK_DEB_RUNTIME})
  set(_deb_name_dev libsoftndk-dev)
  set(_deb_name_tools softndk-tools)
  foreach(_component IN LISTS _deb_components)
    install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
                  ${_deb_doc}/changelog.Debian.gz
      DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_deb_name_${_component}}
      COMPONENT ${_component} EXCLUDE_FROM_ALL)
  endforeach()
  install(FILES ${_softndk_example_files}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libsoftndk-dev/examples
    COMPONENT dev EXCLUDE_FROM_ALL)
endif()

set(CPACK_PACKAGE_NAME softndk)
set(CPACK_PACKAGE_VENDOR "softndk developers")
set(CPACK_PACKAGE_CONTACT "${SOFTNDK_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package has its own synopsis (the first line of CPACK_DEBIAN_<COMPONENT>_DESCRIPTION);
# CPack would put a summary that differs from its default in front of every one of them.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_NAME} built using CMake")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_COMPONENTS_ALL ${_deb_components})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${SOFTNDK_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SOFTNDK_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SOURCE softndk)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps must find libsoftndk.so.0 for the programs; it is packaged separately
# (libsoftndk0), so it is looked up in the build tree and the dependency is given explicitly.
get_target_property(_softndk_binary_dir softndk BINARY_DIR)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${_softndk_binary_dir})
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${SOFTNDK_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# The ldconfig trigger Debian policy asks of a shared library package (CPack itself adds postinst
# and postrm scripts that call ldconfig as well).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/libsoftndk0/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# A shlibs file for the packages that hold a shared object (libsoftndk0): "libsoftndk 0
# libsoftndk0 (>= <version>)", so that dpkg-shlibdeps of other packages finds it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"user-space NDKPI provider (RDMA without an RDMA NIC) - runtime library
softndk implements Microsoft's Network Direct Kernel Provider Interface
(NDKPI 1.2 and the NDKPI 2.1 connector additions), the RDMA provider interface
of Windows kernel networking, in user space on Linux. NDK consumers get every
NDKPI object and operation over an in-process loopback fabric or over iWARP
(MPA/DDP/RDMAP) on TCP, without RDMA hardware.

This package contains the shared library libsoftndk.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsoftndk-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_DEV_DESCRIPTION
"user-space NDKPI provider (RDMA without an RDMA NIC) - development files
softndk implements Microsoft's Network Direct Kernel Provider Interface
(NDKPI 1.2 and the NDKPI 2.1 connector additions) in user space on Linux.

This package contains the C headers (softndk/ndkpi.h, softndk/softndk.h),
the CMake package (find_package(softndk)), the pkg-config file, the manual
pages of the library functions and a minimal NDK consumer in C.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME softndk-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
"user-space NDKPI provider (RDMA without an RDMA NIC) - command line tools
softndk implements Microsoft's Network Direct Kernel Provider Interface
(NDKPI 1.2 and the NDKPI 2.1 connector additions) in user space on Linux.

This package contains softndk, which shows an adapter's limits and counters,
checks connectivity and measures bandwidth, latency and message rate of data
and memory operations (like ibv_devinfo, ndping and perftest), and
softndk-conformance, which runs the NDKPI conformance suite against softndk
or against another provider library.")

include(CPack)
