# cmake -DBUILD_DIR=... -DCONFIG=... (and the rest, see tests/install/CMakeLists.txt) -P run_install_test.cmake
# Installs the current build into a fresh prefix, moves the installed tree elsewhere (so nothing
# may depend on where it was installed), and uses it as a stranger would: (c) the file list, the
# tool's --version and RUNPATHs, (a) a C program built with pkg-config, (b) a CMake project with
# find_package(vqround <this major.minor>), (d) find_package(vqround <next major>) must fail.
# Without pkg-config, (a) is skipped and the test reports itself skipped once the rest has passed.
cmake_minimum_required(VERSION 3.20)

foreach(v BUILD_DIR SOURCE_ROOT TEST_DIR C_COMPILER GENERATOR VERSION SOVERSION LIBDIR INCLUDEDIR BINDIR)
  if("${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${v}=... missing")
  endif()
endforeach()

# A fresh root outside the build and source trees: a path into either one in an installed file
# could then only be a leak, and the test finds it below.
if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(tmp "$ENV{TMPDIR}")
else()
  set(tmp /tmp)
endif()
string(RANDOM LENGTH 10 ALPHABET abcdefghijklmnopqrstuvwxyz0123456789 tag)
set(root "${tmp}/vqround-install-test-${tag}")
set(stage "${root}/stage")
set(P "${root}/moved")  # the prefix every check uses
file(MAKE_DIRECTORY "${root}")

# fail(msg): stops the test, leaving the tree for inspection.
function(fail msg)
  message(FATAL_ERROR "FAIL: ${msg}\n(installed tree left at ${root})")
endfunction()

# run(out_var cmd...): runs cmd without LD_LIBRARY_PATH (so only RUNPATHs and the paths the test
# names find libraries), fails on a non-zero exit, returns stdout + stderr.
function(run out_var)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH ${ARGN}
                  OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    fail("'${cmd}' exited with '${rc}':\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# Sanitizer builds: the installed library needs the sanitizer runtime loaded first, so the
# consumers are built with the same -fsanitize as the library.
set(san_flags "")
set(san_link "")
if(SANITIZE)
  set(san_flags -fsanitize=${SANITIZE} -fno-omit-frame-pointer)
  # clang links its sanitizer runtimes statically, into a C program only their C parts: the C++
  # library also needs their C++ parts (UBSan's vptr handlers) and libstdc++ (as the top-level
  # CMakeLists.txt gives the project's own C programs). Link-time flags only.
  execute_process(COMMAND "${C_COMPILER}" --version OUTPUT_VARIABLE cc_version)
  if(cc_version MATCHES "clang")
    set(san_link -fsanitize-link-c++-runtime -lstdc++)
  endif()
endif()

# --- install, then move the tree -------------------------------------------------------------
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
run(out ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${stage}" ${config_args})
file(RENAME "${stage}" "${P}")
message("installed into ${stage}, moved to ${P}")

# --- (c) what landed where ---------------------------------------------------------------------
set(lib "${P}/${LIBDIR}")
set(expected
  "${LIBDIR}/libvqround.so.${VERSION}" "${LIBDIR}/libvqround.so.${SOVERSION}" "${LIBDIR}/libvqround.so"
  "${INCLUDEDIR}/vqround/vqround.h" "${LIBDIR}/pkgconfig/vqround.pc"
  "${LIBDIR}/cmake/vqround/vqroundConfig.cmake" "${LIBDIR}/cmake/vqround/vqroundConfigVersion.cmake"
  "${LIBDIR}/cmake/vqround/vqroundTargets.cmake" "${BINDIR}/vqround")
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE "${P}" "${P}/*")
# Besides these, only the exported targets' per-configuration file (vqroundTargets-release.cmake)
# may appear: no tests, benchmarks, static library or stray files.
set(unexpected "")
foreach(f IN LISTS installed)
  if(NOT f IN_LIST expected AND NOT f MATCHES "^${LIBDIR}/cmake/vqround/vqroundTargets-[a-z]+\\.cmake$")
    list(APPEND unexpected "${f}")
  endif()
endforeach()
set(missing "")
foreach(f IN LISTS expected)
  if(NOT f IN_LIST installed)
    list(APPEND missing "${f}")
  endif()
endforeach()
if(missing OR unexpected)
  fail("installed files: missing [${missing}], unexpected [${unexpected}]; all: [${installed}]")
endif()
# The real file, the SONAME link the loader follows, the dev link the linker follows.
if(IS_SYMLINK "${lib}/libvqround.so.${VERSION}")
  fail("${lib}/libvqround.so.${VERSION} is a link; it should be the library itself")
endif()
foreach(pair "libvqround.so.${SOVERSION}:libvqround.so.${VERSION}" "libvqround.so:libvqround.so.${SOVERSION}")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 link)
  list(GET pair 1 target)
  if(NOT IS_SYMLINK "${lib}/${link}")
    fail("${lib}/${link} is not a symbolic link")
  endif()
  file(READ_SYMLINK "${lib}/${link}" dest)
  if(NOT dest STREQUAL target)
    fail("${lib}/${link} points at '${dest}', not '${target}' (a relative link in the same folder)")
  endif()
endforeach()

# No installed text file may name the build or source tree (the prefix moved, so it may not name
# the install prefix either: the package and the .pc find their prefix from where they lie).
foreach(f IN LISTS installed)
  if(f MATCHES "\\.(cmake|pc)$")
    file(READ "${P}/${f}" text)
    foreach(tree "${BUILD_DIR}" "${SOURCE_ROOT}" "${stage}")
      string(FIND "${text}" "${tree}" at)
      if(NOT at EQUAL -1)
        fail("${P}/${f} names '${tree}'; installed files must be relocatable")
      endif()
    endforeach()
  endif()
endforeach()

# RUNPATHs: none into the build tree; the tool's finds the library next to it ($ORIGIN/../lib).
if(READELF)
  foreach(bin "${lib}/libvqround.so.${VERSION}" "${P}/${BINDIR}/vqround")
    run(dyn "${READELF}" -d "${bin}")
    string(REGEX MATCHALL "\\((RPATH|RUNPATH)\\)[^\n]*" paths "${dyn}")
    foreach(tree "${BUILD_DIR}" "${SOURCE_ROOT}")
      string(FIND "${paths}" "${tree}" at)
      if(NOT at EQUAL -1)
        fail("${bin} has a run path into '${tree}': ${paths}")
      endif()
    endforeach()
    message("${bin}: ${paths}")
  endforeach()
  # `paths` is now the tool's (the loop's last binary).
  if(NOT paths MATCHES "\\$ORIGIN/")
    fail("${P}/${BINDIR}/vqround has no \$ORIGIN-relative run path: '${paths}'")
  endif()
else()
  message("readelf not found: run paths not inspected (the loader check below still runs)")
endif()

# The installed tool loads the installed library (glibc's loader lists what it would map), and runs.
run(trace ${CMAKE_COMMAND} -E env LD_TRACE_LOADED_OBJECTS=1 "${P}/${BINDIR}/vqround")
if(NOT trace MATCHES "libvqround\\.so\\.${SOVERSION} => (/[^ \n]+)")  # not "=> not found"
  fail("the installed vqround does not find libvqround.so.${SOVERSION}:\n${trace}")
endif()
file(REAL_PATH "${CMAKE_MATCH_1}" loaded)
file(REAL_PATH "${lib}/libvqround.so.${SOVERSION}" wanted)
if(NOT loaded STREQUAL wanted)
  fail("the installed vqround loads ${loaded}, not the installed ${wanted}")
endif()
run(out "${P}/${BINDIR}/vqround" --version)
if(NOT out MATCHES "^vqround ${VERSION}\n")
  fail("'vqround --version' printed:\n${out}")
endif()

# --- (a) a C program through pkg-config --------------------------------------------------------
set(pc_skipped FALSE)
if(PKG_CONFIG AND EXISTS "${PKG_CONFIG}")
  set(pc_env PKG_CONFIG_PATH=${lib}/pkgconfig)
  run(modversion ${CMAKE_COMMAND} -E env ${pc_env} "${PKG_CONFIG}" --modversion vqround)
  string(STRIP "${modversion}" modversion)
  if(NOT modversion STREQUAL VERSION)
    fail("pkg-config --modversion vqround says '${modversion}', the project is ${VERSION}")
  endif()
  run(flags ${CMAKE_COMMAND} -E env ${pc_env} "${PKG_CONFIG}" --cflags --libs vqround)
  string(STRIP "${flags}" flags)
  message("pkg-config --cflags --libs vqround: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  # -pedantic -Werror: the installed header must be clean ISO C11 for a stranger's flags too.
  run(out "${C_COMPILER}" -std=c11 -Wall -Wextra -pedantic -Werror ${san_flags}
      "${TEST_DIR}/consumer.c" ${flags} ${san_link} -o "${root}/consumer_pkgconfig")
  # A prefix outside the loader's paths: the program is told where the library is, as a user would.
  run(out ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${lib} "${root}/consumer_pkgconfig")
  if(NOT out MATCHES "consumer: ok")
    fail("the pkg-config consumer printed:\n${out}")
  endif()
  message("${out}")
else()
  set(pc_skipped TRUE)
endif()

# --- (b) a CMake project through find_package ---------------------------------------------------
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ "${VERSION}")
set(this_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
math(EXPR next_major "${CMAKE_MATCH_1} + 1")
set(consumer_args -G "${GENERATOR}" -DCMAKE_C_COMPILER=${C_COMPILER} "-DCMAKE_PREFIX_PATH=${P}")
if(CONFIG)
  list(APPEND consumer_args -DCMAKE_BUILD_TYPE=${CONFIG})
endif()
if(san_flags)
  string(REPLACE ";" " " san "${san_flags}")
  string(REPLACE ";" " " san_exe "${san_flags};${san_link}")
  list(APPEND consumer_args "-DCMAKE_C_FLAGS=${san}" "-DCMAKE_EXE_LINKER_FLAGS=${san_exe}")
endif()
run(out ${CMAKE_COMMAND} -S "${TEST_DIR}/consumer" -B "${root}/consumer-cmake" ${consumer_args}
    -DVQR_WANT_VERSION=${this_version})
if(NOT out MATCHES "vqround ${VERSION} from ${lib}/cmake/vqround\n")
  fail("find_package(vqround ${this_version}) did not take the package under test:\n${out}")
endif()
run(out ${CMAKE_COMMAND} --build "${root}/consumer-cmake" ${config_args})
# No LD_LIBRARY_PATH: CMake's build RPATH to the imported library's location finds it.
file(GLOB app "${root}/consumer-cmake/app" "${root}/consumer-cmake/*/app")
run(out ${app})
if(NOT out MATCHES "consumer: ok")
  fail("the CMake consumer printed:\n${out}")
endif()
message("${out}")

# --- (d) the version file refuses the next major version ---------------------------------------
execute_process(COMMAND ${CMAKE_COMMAND} -S "${TEST_DIR}/consumer" -B "${root}/consumer-next-major"
                        ${consumer_args} -DVQR_WANT_VERSION=${next_major}.0
                OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
if(rc EQUAL 0)
  fail("find_package(vqround ${next_major}.0) succeeded against ${VERSION}:\n${out}")
endif()
if(NOT out MATCHES "requested version \"${next_major}\\.0\"")
  fail("find_package(vqround ${next_major}.0) failed, but not on the version check:\n${out}")
endif()
message("find_package(vqround ${next_major}.0) refused ${VERSION}, as it should")

file(REMOVE_RECURSE "${root}")
if(pc_skipped)
  message("skipped: pkg-config not found ('${PKG_CONFIG}'): the pkg-config consumer was not built; install pkg-config (scripts/setup.sh)")
endif()
