# End-to-end tests of the live waiting-room channel (api/EDGE_SPEC.md): many
# watchers over Server-Sent Events and WebSocket, resume, stream tickets and
# `Prefer: wait`, against a real ticketd; the client side is one Asio loop.
tl_test(live_tests LABELS live LINK tl_api Boost::headers DEPENDS ticketd SOURCES tests/e2e/live_test.cc)
