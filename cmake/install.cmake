# Install rules: what `cmake --install` puts where, in components that the Debian packages
# (cmake/packaging.cmake) follow:
#   runtime   libsoftndk.so.<version> and the libsoftndk.so.0 link     -> libsoftndk0
#   dev       headers, libsoftndk.so, CMake package, softndk.pc, man 3  -> libsoftndk-dev
#   tools     softndk, softndk-conformance, man 1, bash completion     -> softndk-tools
#   examples  examples/ under share/doc/softndk (plain installs; the -dev package carries them
#             in its own doc directory)
include(CMakePackageConfigHelpers)

set(SOFTNDK_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/softndk")
# VERSION and SOVERSION (the soname libsoftndk.so.0) are set where the library is defined; the
# version script keeps its exports to the softndk.h functions (SoftNdk*, symbol version SOFTNDK_0).
set_target_properties(softndk PROPERTIES INSTALL_RPATH ""
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/libsoftndk.map)
target_link_options(softndk PRIVATE "-Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/libsoftndk.map")

# ---- the library and its headers
install(TARGETS softndk EXPORT softndkTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/softndk
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")

# ---- the CMake package: find_package(softndk CONFIG) -> softndk::softndk (relocatable: every
# path is computed from the location of softndkConfig.cmake)
install(EXPORT softndkTargets NAMESPACE softndk:: DESTINATION ${SOFTNDK_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/softndkConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/softndkConfig.cmake INSTALL_DESTINATION ${SOFTNDK_CMAKE_DIR})
# 0.x: a new minor version may change the ABI (and the soname), so only 0.1.* satisfies 0.1.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/softndkConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/softndkConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/softndkConfigVersion.cmake
  DESTINATION ${SOFTNDK_CMAKE_DIR} COMPONENT dev)

# ---- pkg-config: softndk.pc names the prefix it is installed under, so it is written at install
# time (`cmake --install --prefix P` and the packages' /usr both get the right paths).
set(SOFTNDK_PC_PREFIX "@SOFTNDK_PC_PREFIX@")  # kept for the install-time substitution
configure_file(${PROJECT_SOURCE_DIR}/cmake/softndk.pc.in ${PROJECT_BINARY_DIR}/softndk.pc.in @ONLY)
install(CODE "
  file(READ \"${PROJECT_BINARY_DIR}/softndk.pc.in\" _pc)
  string(REPLACE \"@SOFTNDK_PC_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" _pc \"\${_pc}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/pkgconfig/softndk.pc\" \"\${_pc}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES \"${PROJECT_BINARY_DIR}/pkgconfig/softndk.pc\")
  " COMPONENT dev)

# ---- the programs (built with SOFTNDK_BUILD_TOOLS)
set(_softndk_programs)
foreach(_target softndk-cli softndk-conformance)
  if(TARGET ${_target})
    list(APPEND _softndk_programs ${_target})
    set_target_properties(${_target} PROPERTIES INSTALL_RPATH "${SOFTNDK_PROGRAM_INSTALL_RPATH}")
  endif()
endforeach()
if(_softndk_programs)
  install(TARGETS ${_softndk_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    COMPONENT tools)
  install(FILES ${PROJECT_SOURCE_DIR}/tools/softndk/completion/softndk.bash
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME softndk
    COMPONENT tools)
endif()

# ---- examples/ (the sources and their build files)
set(_softndk_example_files
  ${PROJECT_SOURCE_DIR}/examples/README.md ${PROJECT_SOURCE_DIR}/examples/CMakeLists.txt
  ${PROJECT_SOURCE_DIR}/examples/Makefile ${PROJECT_SOURCE_DIR}/examples/ndk_hello.c)
install(FILES ${_softndk_example_files} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  COMPONENT examples)
