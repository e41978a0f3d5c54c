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
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE sy_warnings)
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
