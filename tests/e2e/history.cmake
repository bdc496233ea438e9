# The outsider's history checker (issue 16): clients over the public HTTP API
# while a seeded nemesis kills, stops and restarts every process of the split
# deployment; the recorded history is checked against the exported ledger.
# TL_HISTORY_SEED, TL_HISTORY_SECONDS (default 30), TL_HISTORY_CLIENTS.
tl_test(history_tests LABELS "e2e;history" DEPENDS ticketd ticketctl
  SOURCES tests/e2e/history_test.cc)
