#include "train/stop.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <thread>

namespace harpe::train {

namespace {

std::atomic<int> g_guards{0};       // live StopGuards
std::atomic<int> g_stop_signal{0};  // the signal that requested the stop
std::atomic<bool> g_waiter{false};  // take_stop_signals_on_a_thread() ran

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kSignals) sigaddset(&set, s);
  return set;
}

void say(const char* msg) {  // async-signal-safe
  const ssize_t n = ::write(2, msg, std::strlen(msg));
  (void)n;
}

// A stop signal arrived (on the waiting thread, or in the fallback handler).
void on_stop(int sig) {
  if (g_guards.load() == 0 || g_stop_signal.load() != 0) {
    // Not training, or a second signal: end now, as the default action would.
    if (g_stop_signal.load() != 0) say("\nharpe: second signal: stopping without saving\n");
    ::_exit(128 + sig);
  }
  g_stop_signal.store(sig);
  say("\nharpe: stop requested: saving the checkpoint after the current step (a second signal "
      "stops at once)\n");
}

extern "C" void fallback_handler(int sig) { on_stop(sig); }

struct sigaction g_prev[3];

}  // namespace

void take_stop_signals_on_a_thread() {
  if (g_waiter.exchange(true)) return;
  sigset_t set = stop_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) == 0) on_stop(sig);
    }
  }).detach();
}

StopGuard::StopGuard() {
  if (g_guards.fetch_add(1) == 0) {
    g_stop_signal.store(0);
    if (!g_waiter.load()) {
      struct sigaction sa {};
      sa.sa_handler = fallback_handler;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_prev[i]);
    }
  }
}

StopGuard::~StopGuard() {
  if (g_guards.fetch_sub(1) == 1 && !g_waiter.load())
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_prev[i], nullptr);
}

bool stop_requested() { return g_stop_signal.load() != 0; }
int stop_signal() { return g_stop_signal.load(); }

}  // namespace harpe::train
