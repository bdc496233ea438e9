// How both binaries stop: SIGINT and SIGTERM are blocked in every thread and
// taken by one thread with sigwait, so no handler runs at a random point.
#pragma once

namespace tl::app {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts
// afterwards, and ignores SIGPIPE (a peer that goes away is an error
// return). Call first in main, before any thread starts.
void BlockStopSignals();

// Waits for SIGINT or SIGTERM (blocked by BlockStopSignals); returns it.
int WaitForStopSignal();

}  // namespace tl::app
