// sluicectl top: a live view of the workers and pipelines, redrawn every second
// with ANSI escapes (any terminal, over SSH too); q quits. Without a terminal it
// prints one frame and exits.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/cli_context.h"
#include "cli/top_frame.h"

namespace sluice::cli {
namespace {

// The terminal as it was, restored on every way out.
struct termios g_saved;
std::atomic<bool> g_raw{false};

void RestoreTerminal() {
  if (g_raw.exchange(false)) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);
    // Show the cursor again and leave the alternate screen.
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
  }
}

void OnSignal(int sig) {
  RestoreTerminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

// Keys without Enter, no echo; the alternate screen, cursor hidden.
void EnterRaw() {
  if (tcgetattr(STDIN_FILENO, &g_saved) != 0) return;
  struct termios raw = g_saved;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0) return;
  g_raw = true;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, OnSignal);
  std::fputs("\x1b[?1049h\x1b[?25l", stdout);
}

int TerminalWidth() {
  struct winsize ws = {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

TopSnapshot Fetch(const CliContext& ctx) {
  TopSnapshot s;
  s.at = absl::Now();
  s.controller = ctx.args().controller;
  v1::GetStatsRequest by;
  // Rows/s over the last minute.
  by.mutable_window()->set_seconds(60);
  grpc::Status st = ctx.Read(&v1::Admin::Stub::ListWorkers, v1::ListWorkersRequest(), &s.workers);
  if (st.ok()) {
    by.set_group_by(v1::STATS_GROUP_BY_WORKER);
    st = ctx.Read(&v1::Admin::Stub::GetStats, by, &s.by_worker);
  }
  if (st.ok()) {
    by.set_group_by(v1::STATS_GROUP_BY_PIPELINE);
    st = ctx.Read(&v1::Admin::Stub::GetStats, by, &s.by_pipeline);
  }
  if (st.ok()) {
    st = ctx.Read(&v1::Admin::Stub::ListPipelines, v1::ListPipelinesRequest(), &s.pipelines);
  }
  if (st.ok()) st = ctx.Read(&v1::Admin::Stub::ListFlags, v1::ListFlagsRequest(), &s.flags);
  if (!st.ok()) s.error = absl::StrCat("the controller did not answer: ", st.error_message());
  return s;
}

}  // namespace

int RunTop(const CliContext& ctx) {
  if (ctx.args().positional.size() != 1) return ctx.Usage("top takes no operands");
  const bool live = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  if (!live) {
    for (const std::string& line : RenderTopFrame(Fetch(ctx), 80)) ctx.out() << line << "\n";
    return kExitOk;
  }
  EnterRaw();
  for (;;) {
    std::string frame = "\x1b[H";  // home; each line clears its rest
    for (const std::string& line : RenderTopFrame(Fetch(ctx), TerminalWidth())) {
      absl::StrAppend(&frame, line, "\x1b[K\r\n");
    }
    absl::StrAppend(&frame, "\x1b[J");  // and below the last line
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    // A second, or until a key.
    const absl::Time until = absl::Now() + absl::Seconds(1);
    bool quit = false;
    while (!quit) {
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      struct pollfd in = {STDIN_FILENO, POLLIN, 0};
      if (poll(&in, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char c = 0;
      if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3)) quit = true;
    }
    if (quit) break;
  }
  RestoreTerminal();
  return kExitOk;
}

}  // namespace sluice::cli
