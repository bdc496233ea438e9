# End-to-end tests of the HTTP edge (api/EDGE_SPEC.md): denial-of-service
# attacks held while newcomers must be served, and every limit that bites.
tl_test(edge_tests LABELS edge LINK tl_api DEPENDS ticketd SOURCES tests/e2e/edge_test.cc)
