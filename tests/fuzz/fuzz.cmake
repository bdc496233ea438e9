# libFuzzer targets (issue 16): one per parser of outside input, each with a
# committed seed corpus (tests/fuzz/corpus/<target>/) and, where it helps, a
# dictionary (tests/fuzz/dict/<target>.dict). A separate clang build:
#
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
#     -DTICKETLEDGER_FUZZ=ON -DTICKETLEDGER_BENCHMARKS=OFF
#   cmake --build build-fuzz --target fuzz_targets
#   ctest --test-dir build-fuzz -L fuzz        # each target briefly on its corpus
#   build-fuzz/fuzz_chunk -runs=1000000 tests/fuzz/corpus/chunk   # a long run
#
# Only the fuzz targets and the sources they need are built here, each with
# ASan + UBSan and libFuzzer's coverage; a sanitizer report is a failure.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TICKETLEDGER_FUZZ needs clang (libFuzzer): "
                      "-DCMAKE_CXX_COMPILER=clang++ (Debian: clang libclang-rt-14-dev)")
endif()
set(TL_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
# The project's own libraries the targets link, instrumented too (a bug is
# found where the parser is, not only in the target's code).
foreach(lib tl_schemas tl_core tl_jwt tl_app tl_api)
  target_compile_options(${lib} PRIVATE ${TL_FUZZ_FLAGS})
endforeach()

# Sources of larger libraries, compiled here alone so the fuzz build does not
# build RocksDB, Kafka or the whole api: the log's record framing, decoding,
# ledger reader and export (no backend).
add_library(tl_fuzz_log STATIC
  engine/log/record_frame.cc
  engine/log/decode.cc
  engine/log/ledger_reader.cc
  engine/log/ledger_export.cc)
tl_layer(tl_fuzz_log engine/log)
target_compile_options(tl_fuzz_log PRIVATE ${TL_FUZZ_FLAGS})
target_link_libraries(tl_fuzz_log PUBLIC tl_core tl_logger ZLIB::ZLIB absl::synchronization
  absl::time Threads::Threads)

add_custom_target(fuzz_targets)
# tl_fuzz(name SOURCES ... LINK ...): the target fuzz_<name>, and the ctest
# fuzz.<name> that runs it for TL_FUZZ_SECONDS on tests/fuzz/corpus/<name>.
set(TL_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz target runs under ctest -L fuzz")
function(tl_fuzz name)
  cmake_parse_arguments(F "" "" "SOURCES;LINK;LAYERS" ${ARGN})
  add_executable(fuzz_${name} ${F_SOURCES})
  target_compile_options(fuzz_${name} PRIVATE ${TL_WARNINGS} ${TL_FUZZ_FLAGS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${name} PRIVATE ${F_LINK})
  add_dependencies(fuzz_targets fuzz_${name})
  add_test(NAME fuzz.${name}
    COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run_fuzz.sh $<TARGET_FILE:fuzz_${name}> ${name}
            ${TL_FUZZ_SECONDS} ${CMAKE_BINARY_DIR}/fuzz-work)
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()

tl_fuzz(chunk SOURCES tests/fuzz/chunk_fuzz.cc LINK tl_fuzz_log)
tl_fuzz(record SOURCES tests/fuzz/record_fuzz.cc LINK tl_fuzz_log)
tl_fuzz(ledger SOURCES tests/fuzz/ledger_fuzz.cc LINK tl_fuzz_log)
tl_fuzz(commands SOURCES tests/fuzz/commands_fuzz.cc LINK tl_fuzz_log)
tl_fuzz(export SOURCES tests/fuzz/export_fuzz.cc LINK tl_fuzz_log)

# Writes the binary seeds from tests/fuzz/seeds/ (make_seeds.cc says when).
add_executable(fuzz_make_seeds tests/fuzz/make_seeds.cc)
target_compile_options(fuzz_make_seeds PRIVATE ${TL_WARNINGS})
target_link_libraries(fuzz_make_seeds PRIVATE tl_fuzz_log tl_jwt)
target_link_options(fuzz_make_seeds PRIVATE -fsanitize=address,undefined)
tl_fuzz(jwt SOURCES tests/fuzz/jwt_fuzz.cc LINK tl_jwt)

# ticketd's settings (ops/app/settings.cc) and the Redis URL parser
# (projections/redis/redis_sink.cc), with only what they link against.
add_library(tl_fuzz_settings STATIC ops/app/settings.cc projections/redis/redis_sink.cc
  projections/delta.cc projections/projector.cc)
target_include_directories(tl_fuzz_settings PUBLIC
  $<TARGET_PROPERTY:tl_daemon,INCLUDE_DIRECTORIES>)
target_compile_definitions(tl_fuzz_settings PUBLIC BOOST_ASIO_NO_DEPRECATED)
target_compile_options(tl_fuzz_settings PRIVATE ${TL_WARNINGS} ${TL_FUZZ_FLAGS})
target_link_libraries(tl_fuzz_settings PUBLIC tl_app tl_jwt tl_fuzz_log PkgConfig::HIREDIS
  PkgConfig::PQXX pq nlohmann_json::nlohmann_json)
tl_fuzz(settings SOURCES tests/fuzz/settings_fuzz.cc LINK tl_fuzz_settings)

# The HTTP transport's parser (api/http/server.cc) and the api's routes: all
# of tl_api (instrumented above), on a backend the body target fakes.
tl_fuzz(http SOURCES tests/fuzz/http_fuzz.cc LINK tl_api)
tl_fuzz(body SOURCES tests/fuzz/body_fuzz.cc LINK tl_api)
