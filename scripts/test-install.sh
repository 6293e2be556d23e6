#!/usr/bin/env bash
# Tests softndk the way a user gets it (README.md "Installing"), from one build tree:
#  1. `cmake --install` into a temporary prefix: every file where it belongs, the soname, only the
#     softndk.h functions exported, no path of the build tree in any installed file; the installed
#     softndk and softndk-conformance run without LD_LIBRARY_PATH;
#  2. examples/ndk_hello.c built against that install with the CMake package (from a copy of the
#     prefix moved elsewhere: the package is relocatable) and with pkg-config (examples/Makefile),
#     and run;
#  3. the Debian packages (cpack): their names, dependencies and files; extracted with dpkg-deb -x
#     into a throw-away root, the example built there with the CMake package and with pkg-config,
#     and run, as are the packaged programs; `apt-get install --simulate ./*.deb` resolves them;
#  4. lintian on the packages (installed with apt-get when missing): no error; warnings listed.
# Nothing outside a temporary directory changes (besides the build tree being brought up to date
# and lintian being installed). Usage: scripts/test-install.sh [BUILD_DIR] [--no-lintian]
# (BUILD_DIR default build/default; configured like scripts/test.sh when it does not exist).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)
build=build/default
lintian=1
for arg in "$@"; do
  case "$arg" in
    --no-lintian) lintian=0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "test-install: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
build=$(cd "$(dirname "$build")" && pwd)/$(basename "$build")
jobs=$(nproc)
work=$(mktemp -d /tmp/softndk-test-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

step() { echo "=== test-install: $*"; }
fail() {
  echo "test-install: FAIL: $*" >&2
  exit 1
}
# Runs a consumer and checks it says it succeeded.
run_consumer() {  # what, command...
  local what=$1 out
  shift
  out=$("$@" 2>&1) || fail "$what: exit status $?: $out"
  grep -q "all steps succeeded" <<<"$out" || fail "$what: $out"
  echo "    $what: ok"
}

# ---- 0. the build tree
if [ ! -f "$build/CMakeCache.txt" ]; then
  step "configure $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOFTNDK_BUILD_BENCH=OFF \
    >/dev/null
fi
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
case "$(cache SOFTNDK_SANITIZE)" in "" | OFF | FALSE | 0) ;; *) false ;; esac ||
  fail "$build is a sanitizer build; installed consumers would need the sanitizer runtime"
[ "$(cache SOFTNDK_BUILD_TOOLS)" = ON ] || fail "$build has SOFTNDK_BUILD_TOOLS off"
step "build $build"
cmake --build "$build" -j "$jobs" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail build; }
[ -f "$build/docs/man/man1/softndk.1.gz" ] ||
  fail "man pages not built: pandoc missing? (scripts/setup.sh installs it)"
libdir=$(cache CMAKE_INSTALL_LIBDIR)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "${libdir#lib/}")

# ---- 1. cmake --install
prefix=$work/prefix
step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
expected=(
  bin/softndk bin/softndk-conformance
  include/softndk/ndkpi.h include/softndk/softndk.h
  "$libdir/libsoftndk.so" "$libdir/libsoftndk.so.0" "$libdir/libsoftndk.so.$version"
  "$libdir/cmake/softndk/softndkConfig.cmake" "$libdir/cmake/softndk/softndkConfigVersion.cmake"
  "$libdir/cmake/softndk/softndkTargets.cmake" "$libdir/pkgconfig/softndk.pc"
  share/bash-completion/completions/softndk
  share/doc/softndk/examples/ndk_hello.c share/doc/softndk/examples/CMakeLists.txt
  share/doc/softndk/examples/Makefile share/doc/softndk/examples/README.md
)
for page in softndk softndk-info softndk-ping softndk-perf softndk-conformance; do
  expected+=("share/man/man1/$page.1.gz")
done
for page in softndk SoftNdkOpenAdapter SoftNdkOpenAdapterEx SoftNdkCloseAdapter SoftNdkInitializeMdl \
  SoftNdkStatusName SoftNdkQueryAdapterCounters; do
  expected+=("share/man/man3/$page.3.gz")
done
for f in "${expected[@]}"; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$prefix/$libdir/libsoftndk.so")" = libsoftndk.so.0 ] || fail "libsoftndk.so link"
[ "$(readlink "$prefix/$libdir/libsoftndk.so.0")" = "libsoftndk.so.$version" ] ||
  fail "libsoftndk.so.0 link"
readelf -d "$prefix/$libdir/libsoftndk.so.$version" | grep -q 'SONAME.*\[libsoftndk\.so\.0\]' ||
  fail "soname is not libsoftndk.so.0"
exports=$(nm -D --defined-only "$prefix/$libdir/libsoftndk.so.$version" | awk '{print $3}' |
  grep -v -e '^SoftNdk[A-Za-z]*@@SOFTNDK_0$' -e '^SOFTNDK_0$' || true)
[ -z "$exports" ] || fail "libsoftndk exports more than the softndk.h functions: $exports"
# No installed text file (CMake package, softndk.pc, ...) names the build or source tree, nor
# does a run path (the binaries' debug information may name the sources).
leaks=$(grep -rlI -e "$build" -e "$root_dir" "$prefix" || true)
[ -z "$leaks" ] || fail "installed files name the build tree: $leaks"
for program in softndk softndk-conformance; do
  runpath=$(readelf -d "$prefix/bin/$program" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
  [ "$runpath" = "\$ORIGIN/../$libdir" ] || fail "$program: run path '$runpath'"
done
echo "    $(find "$prefix" -type f -o -type l | wc -l) files installed; soname, exports, run paths ok"
env -u LD_LIBRARY_PATH "$prefix/bin/softndk" info loopback >/dev/null || fail "installed softndk info"
env -u LD_LIBRARY_PATH "$prefix/bin/softndk" ping --count 2 --interval 0.01 >/dev/null ||
  fail "installed softndk ping"
env -u LD_LIBRARY_PATH "$prefix/bin/softndk-conformance" --uri loopback --filter '*Smoke*' \
  >"$work/conformance.log" 2>&1 || { cat "$work/conformance.log"; fail "installed softndk-conformance"; }
echo "    installed softndk info/ping and softndk-conformance run: ok"

# ---- 2. consumers of the installed tree
step "consumer 1: CMake package (find_package(softndk CONFIG)) from a moved copy of the prefix"
moved=$work/moved/somewhere/else
mkdir -p "$(dirname "$moved")"
cp -a "$prefix" "$moved"
cmake -S examples -B "$work/consumer-cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$moved" >"$work/consumer-cmake.log" 2>&1 ||
  { cat "$work/consumer-cmake.log"; fail "consumer (CMake package): configure"; }
grep -q "^softndk_DIR:PATH=$moved/$libdir/cmake/softndk$" "$work/consumer-cmake/CMakeCache.txt" ||
  fail "consumer (CMake package) did not use the moved prefix"
cmake --build "$work/consumer-cmake" >>"$work/consumer-cmake.log" 2>&1 ||
  { cat "$work/consumer-cmake.log"; fail "consumer (CMake package): build"; }
run_consumer "ndk_hello (CMake package, loopback)" env -u LD_LIBRARY_PATH "$work/consumer-cmake/ndk_hello"
run_consumer "ndk_hello (CMake package, tcp)" env -u LD_LIBRARY_PATH \
  "$work/consumer-cmake/ndk_hello" tcp://127.0.0.1

step "consumer 2: pkg-config (examples/Makefile)"
cp -r examples "$work/consumer-pc"
rm -rf "$work/consumer-pc/build"
PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" make -C "$work/consumer-pc" \
  CFLAGS="-O2 -Wall -Wextra -Werror" >"$work/consumer-pc.log" 2>&1 ||
  { cat "$work/consumer-pc.log"; fail "consumer (pkg-config): build"; }
pc_libdir=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --variable=libdir softndk)
[ "$pc_libdir" = "$prefix/$libdir" ] || fail "softndk.pc libdir $pc_libdir"
run_consumer "ndk_hello (pkg-config)" env LD_LIBRARY_PATH="$pc_libdir" "$work/consumer-pc/ndk_hello"

# ---- 3. the Debian packages
debs=$work/debs
step "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$debs") >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail cpack; }
deb_version="$version-$(cache SOFTNDK_DEB_REVISION)"
for package in libsoftndk0 libsoftndk-dev softndk-tools; do
  deb="$debs/${package}_${deb_version}_$arch.deb"
  [ -f "$deb" ] || fail "no $(basename "$deb") (cpack made: $(cd "$debs" && ls -- *.deb))"
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "    $package $deb_version: Depends: $depends"
  case "$package" in
    libsoftndk0) grep -q 'libisal2' <<<"$depends" || fail "$package does not depend on libisal2" ;;
    *) grep -q "libsoftndk0 (= $deb_version)" <<<"$depends" ||
      fail "$package does not depend on libsoftndk0 (= $deb_version)" ;;
  esac
  dpkg-deb -x "$deb" "$work/root"
done
# What goes where: the runtime library alone in libsoftndk0, the link and headers in -dev.
runtime_files=$(dpkg-deb -c "$debs/libsoftndk0_${deb_version}_$arch.deb")
dev_files=$(dpkg-deb -c "$debs/libsoftndk-dev_${deb_version}_$arch.deb")
grep -q "libsoftndk.so.0 -> " <<<"$runtime_files" || fail "libsoftndk0 lacks libsoftndk.so.0"
! grep -q -e 'libsoftndk.so -> ' -e '/include/' <<<"$runtime_files" ||
  fail "libsoftndk0 carries development files"
grep -q "libsoftndk.so -> " <<<"$dev_files" || fail "libsoftndk-dev lacks libsoftndk.so"
shlibs=$(dpkg-deb -I "$debs/libsoftndk0_${deb_version}_$arch.deb" shlibs)
grep -q "^libsoftndk 0 libsoftndk0" <<<"$shlibs" || fail "libsoftndk0 has no shlibs entry"
usr=$work/root/usr
[ -x "$usr/bin/softndk" ] && [ -f "$usr/lib/$multiarch/libsoftndk.so.$version" ] &&
  [ -f "$usr/include/softndk/ndkpi.h" ] && [ -f "$usr/share/man/man1/softndk.1.gz" ] ||
  fail "extracted packages lack files"
env -u LD_LIBRARY_PATH "$usr/bin/softndk" info >/dev/null || fail "packaged softndk info"
echo "    packaged softndk runs from the extracted root: ok"

step "consumer 3: the extracted packages (CMake package and pkg-config)"
cmake -S examples -B "$work/consumer-deb" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$usr" -DCMAKE_FIND_ROOT_PATH="$work/root" >"$work/consumer-deb.log" 2>&1 ||
  { cat "$work/consumer-deb.log"; fail "consumer (packages, CMake): configure"; }
grep -q "^softndk_DIR:PATH=$usr/lib/$multiarch/cmake/softndk$" "$work/consumer-deb/CMakeCache.txt" ||
  fail "consumer (packages, CMake) did not use the extracted packages"
cmake --build "$work/consumer-deb" >>"$work/consumer-deb.log" 2>&1 ||
  { cat "$work/consumer-deb.log"; fail "consumer (packages, CMake): build"; }
run_consumer "ndk_hello (packages, CMake package)" env -u LD_LIBRARY_PATH "$work/consumer-deb/ndk_hello"
cp -r examples "$work/consumer-deb-pc"
PKG_CONFIG_SYSROOT_DIR="$work/root" PKG_CONFIG_LIBDIR="$usr/lib/$multiarch/pkgconfig" \
  make -C "$work/consumer-deb-pc" CFLAGS="-O2 -Wall -Wextra -Werror" >"$work/consumer-deb-pc.log" 2>&1 ||
  { cat "$work/consumer-deb-pc.log"; fail "consumer (packages, pkg-config): build"; }
run_consumer "ndk_hello (packages, pkg-config)" env LD_LIBRARY_PATH="$usr/lib/$multiarch" \
  "$work/consumer-deb-pc/ndk_hello"

if command -v apt-get >/dev/null; then
  # Dependencies resolvable from the archive (no change to this system).
  (cd "$debs" && apt-get install --simulate -qq ./*.deb >"$work/apt.log" 2>&1) ||
    { cat "$work/apt.log"; fail "apt-get install --simulate ./*.deb"; }
  echo "    apt-get install --simulate ./*.deb: dependencies resolve"
fi

# ---- 4. lintian
if ((lintian)); then
  step "lintian"
  if ! command -v lintian >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "    installing lintian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq lintian >/dev/null
  fi
  lintian --tag-display-limit 0 "$debs"/*.deb >"$work/lintian.log" 2>&1 || true
  sed 's/^/    /' "$work/lintian.log"
  errors=$(grep -c '^E:' "$work/lintian.log" || true)
  warnings=$(grep -c '^W:' "$work/lintian.log" || true)
  echo "    lintian: $errors error(s), $warnings warning(s)"
  ((errors == 0)) || fail "lintian reports errors"
fi
echo "=== test-install: all passed ($((SECONDS - started)) s)"
