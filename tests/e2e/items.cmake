# End-to-end tests of issue 15 (items, quantities, choosing on admission)
# over HTTP against a real ticketd: the pop-up store scenario and the
# quantity race.
tl_test(items_http_tests LABELS "api;items" DEPENDS ticketd SOURCES tests/e2e/items_test.cc)
