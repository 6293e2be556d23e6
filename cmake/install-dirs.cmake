# Where `cmake --install` and the Debian packages put things (GNU standard directories), and the
# run path of the installed programs. Included before the targets are created.
#
# On Debian and its derivatives the library directory defaults to the multiarch directory
# (lib/x86_64-linux-gnu) whatever the prefix, as Debian's own CMake builds do: one build tree then
# serves `cmake --install --prefix ANY` and the Debian packages (which install under /usr), and
# /usr/local/lib/<multiarch> is on the default library path too. Pass -DCMAKE_INSTALL_LIBDIR=...
# to choose another.
if(NOT DEFINED CMAKE_INSTALL_LIBDIR AND CMAKE_SYSTEM_NAME STREQUAL "Linux"
   AND EXISTS /etc/debian_version AND CMAKE_LIBRARY_ARCHITECTURE AND NOT CMAKE_CROSSCOMPILING)
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE PATH
      "Object code libraries (lib/<multiarch> on Debian)")
endif()
include(GNUInstallDirs)
foreach(_dir BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    message(FATAL_ERROR "CMAKE_INSTALL_${_dir} must be relative to the prefix (the CMake package "
                        "and softndk.pc are relocatable): ${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()

# The installed programs find libsoftndk.so relative to themselves ($ORIGIN/../lib/...), so an
# installed tree can be moved and needs no LD_LIBRARY_PATH; the build tree's path never reaches
# an installed file. Lintian accepts $ORIGIN run paths; -DSOFTNDK_INSTALL_RPATH=OFF drops it.
option(SOFTNDK_INSTALL_RPATH "Installed programs find libsoftndk relative to themselves" ON)
set(SOFTNDK_PROGRAM_INSTALL_RPATH "")
if(SOFTNDK_INSTALL_RPATH)
  file(RELATIVE_PATH _softndk_bin_to_lib "/prefix/${CMAKE_INSTALL_BINDIR}"
       "/prefix/${CMAKE_INSTALL_LIBDIR}")
  set(SOFTNDK_PROGRAM_INSTALL_RPATH "$ORIGIN/${_softndk_bin_to_lib}")
endif()
