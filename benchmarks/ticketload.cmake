# ticketload: the load generator that drives a drop against a running ticketd
# (benchmarks/profiles.md). Boost.Asio/Beast are header-only (Boost::headers,
# found by the top CMakeLists for the api).
if(TICKETLEDGER_BENCHMARKS AND NOT TICKETLEDGER_SANITIZE)
  add_executable(ticketload
    benchmarks/ticketload.cc
    benchmarks/ticketload_common.cc
    benchmarks/ticketload_worker.cc
    benchmarks/ticketload_http.cc
    benchmarks/ticketload_checks.cc)
  tl_layer(ticketload benchmarks)
  target_link_libraries(ticketload PRIVATE tl_api tl_projections tl_app Boost::headers CLI11::CLI11
    nlohmann_json::nlohmann_json Threads::Threads)
endif()
