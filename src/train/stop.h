// Stopping a training run cleanly on SIGINT, SIGTERM or SIGHUP: the loop checks stop_requested()
// between steps, saves the checkpoint and returns RunEnd::interrupted (the CLI exits 130).
//
// Why a waiting thread: a handler runs on whatever thread the signal lands on, including one inside
// oneDNN's JIT code whose stack pointer may point at a heap buffer (a known defect of the 2.6
// series), and a handler frame pushed there corrupts memory. So the program blocks the three
// signals in its first thread before any other thread exists (every thread inherits the mask) and
// one thread takes them with sigwait(): no handler ever runs on a compute thread.
#pragma once

namespace harpe::train {

// Call first thing in main(), before any thread is created: blocks SIGINT/SIGTERM/SIGHUP in this
// thread and in every thread created later, and starts the thread that waits for them. Outside a
// StopGuard a signal ends the program at once (exit status 128 + signal number, as the default
// action would be reported by a shell); inside one it requests a stop, and a second signal ends the
// program at once.
void take_stop_signals_on_a_thread();

// While alive: stop signals request a stop (stop_requested() becomes true) instead of ending the
// program. Processes that did not call take_stop_signals_on_a_thread() (tests) get a handler that
// only sets the flag. Nesting is allowed; the flag is cleared when the outermost guard is made.
struct StopGuard {
  StopGuard();
  ~StopGuard();
  StopGuard(const StopGuard&) = delete;
  StopGuard& operator=(const StopGuard&) = delete;
};
bool stop_requested();
// The signal that requested the stop (0: none).
int stop_signal();

}  // namespace harpe::train
