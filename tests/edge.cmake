# End-to-end tests of the HTTP edge (api/EDGE_SPEC.md): denial-of-service
# attacks held while newcomers must be served, and every limit that bites.
add_executable(edge_tests tests/edge_test.cc)
target_compile_options(edge_tests PRIVATE ${TL_WARNINGS})
target_compile_definitions(edge_tests PRIVATE TL_TICKETD="$<TARGET_FILE:ticketd>"
  TL_TICKETCTL="$<TARGET_FILE:ticketctl>")
target_link_libraries(edge_tests PRIVATE tl_api GTest::gtest_main)
add_dependencies(edge_tests ticketd)
gtest_discover_tests(edge_tests PROPERTIES LABELS edge DISCOVERY_TIMEOUT 60)
