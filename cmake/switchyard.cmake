# Shared build settings and helper functions for switchyard targets.

add_library(sy_warnings INTERFACE)
target_compile_options(sy_warnings INTERFACE -Wall -Wextra -Wno-missing-field-initializers
                                             -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(SY_WERROR)
  target_compile_options(sy_warnings INTERFACE -Werror)
endif()

if(SY_SANITIZE)
  add_compile_options(-fsanitize=${SY_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${SY_SANITIZE})
endif()
if(SY_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Layer direction is checked by the build, not only by lint: every layer library depends on this
# target, which runs scripts/check-layers whenever a source, a header or the script changes, so an
# include that points up a layer fails `cmake --build` before anything compiles (GUIDE 1).
file(GLOB_RECURSE sy_layer_inputs CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/*.cpp ${CMAKE_SOURCE_DIR}/src/*.hpp
     ${CMAKE_SOURCE_DIR}/include/*.hpp)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/check-layers.stamp
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layers
  COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/check-layers.stamp
  DEPENDS ${CMAKE_SOURCE_DIR}/scripts/check-layers ${sy_layer_inputs}
  COMMENT "Checking layer direction (scripts/check-layers)"
  VERBATIM)
add_custom_target(sy_check_layers DEPENDS ${CMAKE_BINARY_DIR}/check-layers.stamp)

# Work in progress in a shared tree must not break everyone's configure: a target whose listed
# sources do not exist yet is skipped with a warning (CI builds from a clean commit, where every
# listed file exists, and a skipped library makes its dependents fail to link there).
macro(sy_sources_exist out)
  set(${out} TRUE)
  foreach(src ${ARGN})
    if(NOT IS_ABSOLUTE ${src})
      set(src ${CMAKE_CURRENT_SOURCE_DIR}/${src})
    endif()
    if(NOT EXISTS ${src} AND NOT src MATCHES "/generated/")
      message(WARNING "skipping ${name}: ${src} does not exist")
      set(${out} FALSE)
      break()
    endif()
  endforeach()
endmacro()

# sy_add_library(<target> SOURCES ... [DEPS ...])
# A layer library. Public headers live in include/switchyard/<layer>/.
function(sy_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  sy_sources_exist(ok ${A_SOURCES})
  if(NOT ok)
    return()
  endif()
  add_library(${name} STATIC ${A_SOURCES})
  # Installed (cmake/install.cmake): the headers are under <prefix>/include, the warnings are
  # the project's own business, and the target is switchyard::<name without sy_>.
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                                            $<INSTALL_INTERFACE:include>
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE $<BUILD_INTERFACE:sy_warnings>)
  string(REGEX REPLACE "^sy_" "" export_name ${name})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
  add_library(switchyard::${export_name} ALIAS ${name})  # the installed name, in the tree too
  add_dependencies(${name} sy_check_layers)
  set_property(GLOBAL APPEND PROPERTY SY_LIBRARIES ${name})
endfunction()

# sy_add_header_check(): every public header under include/switchyard compiles on its own. One
# generated translation unit per header includes only that header (twice, so a missing include
# guard shows too); they build as an object library that links every layer library for include
# paths and generated headers. Called once, after the layers are added.
function(sy_add_header_check)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/include
       ${CMAKE_SOURCE_DIR}/include/switchyard/*.hpp)
  set(sources)
  foreach(h ${headers})
    string(REGEX REPLACE "\\.hpp$" ".cpp" c ${CMAKE_BINARY_DIR}/header_check/${h})
    file(CONFIGURE OUTPUT ${c} CONTENT "#include \"${h}\"\n#include \"${h}\"\n")
    list(APPEND sources ${c})
  endforeach()
  get_property(libs GLOBAL PROPERTY SY_LIBRARIES)
  add_library(sy_header_check OBJECT ${sources})
  target_link_libraries(sy_header_check PRIVATE ${libs} sy_warnings)
  # Nothing here is linked or run: parse and type-check only (parsing is most of the cost).
  target_compile_options(sy_header_check PRIVATE -O0 -g0)
endfunction()

# sy_add_test(<name> SOURCES ... [DEPS ...]): a GoogleTest binary, registered with CTest.
function(sy_add_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  sy_sources_exist(ok ${A_SOURCES})
  if(NOT ok)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main GTest::gmock
                                        sy_warnings)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()

# sy_add_fuzzer(<name> SOURCES ... [DEPS ...]): a libFuzzer target (only with SY_FUZZ=ON).
function(sy_add_fuzzer name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  sy_sources_exist(ok ${A_SOURCES})
  if(NOT ok)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  target_link_libraries(${name} PRIVATE ${A_DEPS} sy_warnings)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
endfunction()

# sy_add_micro_bench(<name> SOURCES ... [DEPS ...]): a Google Benchmark binary.
function(sy_add_micro_bench name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  sy_sources_exist(ok ${A_SOURCES})
  if(NOT ok)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} benchmark::benchmark sy_warnings)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endfunction()
