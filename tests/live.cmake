# End-to-end tests of the live waiting-room channel (api/EDGE_SPEC.md): many
# watchers over Server-Sent Events and WebSocket, resume, stream tickets and
# `Prefer: wait`, against a real ticketd; the client side is one Asio loop.
add_executable(live_tests tests/live_test.cc)
target_compile_options(live_tests PRIVATE ${TL_WARNINGS})
target_compile_definitions(live_tests PRIVATE TL_TICKETD="$<TARGET_FILE:ticketd>"
  TL_TICKETCTL="$<TARGET_FILE:ticketctl>")
target_link_libraries(live_tests PRIVATE tl_api Boost::headers GTest::gtest_main)
add_dependencies(live_tests ticketd)
gtest_discover_tests(live_tests PROPERTIES LABELS live DISCOVERY_TIMEOUT 60)
