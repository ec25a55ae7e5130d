"""What every backend shares: the collective timeout, the watchdog and failure handling.

A collective runs inside `group.watch(name)`, which records (name, start time). A daemon
watchdog thread wakes every POLL seconds and

- stops this rank when a collective has run past the group's timeout: it names the
  collective and the rank, then aborts the job (MPI_Abort), so no rank waits forever
  on a peer that died or hung;
- stops this rank when a peer says it failed (`_poll_notice`): it names the failed
  rank and its error, acknowledges, and exits with status 1.

- stops this rank when a peer process on this machine is gone (its pid, exchanged at
  init, no longer runs): it names the rank that died and exits with status 1.

A rank whose Python raises (`sys.excepthook`, installed by init_process_group) prints
its traceback, tells every peer (`_notify_peers`), waits a moment for their
acknowledgements, then aborts the job. A rank that dies outright leaves no word, and
mpirun ends the job at once (SIGTERM to the others): the watchdog takes SIGTERM (the
main thread blocks it while the group exists), looks which peers are gone, and names
them before exiting, so each surviving rank says why it stops.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

POLL = 0.05          # seconds between watchdog looks
ACK_GRACE = 5.0      # seconds a failing rank waits for its peers' acknowledgements


def _say(text):
    """To stderr, and to the launcher's report file (NNKERNELS_DIST_REPORT): mpirun may stop
    forwarding a rank's output while it tears the job down, the file keeps the line."""
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.stderr.write(f"nnkernels.distributed: {text}\n")
        sys.stderr.flush()
    except Exception:
        pass
    report = os.environ.get("NNKERNELS_DIST_REPORT")
    if report:
        try:
            fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{text}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            pass


class ProcessGroup:
    """A set of ranks that run collectives together. Subclasses provide the transport."""

    backend = "?"
    can_notify = False   # whether peers can be told about a failure (needs a second channel)

    def __init__(self, rank, size, timeout):
        self.rank, self.size, self.timeout = int(rank), int(size), float(timeout)
        self.local_rank, self.local_size = 0, 1
        self._op = None
        self._watchdog = None
        self._prev_hook = None
        self._failing = False
        self.peers = {}          # rank -> pid, for the peers on this machine (set by the backend)
        self._blocked_term = False

    # -- watching collectives
    @contextlib.contextmanager
    def watch(self, name):
        outer, self._op = self._op, (name, time.monotonic())
        try:
            yield
        finally:
            self._op = outer

    def start_watchdog(self):
        if self.size > 1 and self._watchdog is None:
            if threading.current_thread() is threading.main_thread() and hasattr(signal, "sigtimedwait"):
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})   # the watchdog takes it
                self._blocked_term = True
            self._watchdog = _Watchdog(self)
            self._watchdog.start()
        if self.size > 1 and self._prev_hook is None:
            self._prev_hook = sys.excepthook
            sys.excepthook = self._excepthook

    def stop_watchdog(self):
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._blocked_term:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            self._blocked_term = False
        if self._prev_hook is not None:
            if sys.excepthook == self._excepthook:
                sys.excepthook = self._prev_hook
            self._prev_hook = None

    # -- failure
    def _excepthook(self, tp, val, tb):
        (self._prev_hook or sys.__excepthook__)(tp, val, tb)
        if self._failing:
            return
        self._failing = True
        what = f"{tp.__name__}: {val}" if str(val) else tp.__name__
        _say(f"rank {self.rank} of {self.size} raised {what}; stopping the other ranks")
        self.fail(what)

    def fail(self, what):
        """Tell the peers this rank failed, give them a moment to say so, then end the job."""
        if self.can_notify:
            try:
                self._notify_peers(what, ACK_GRACE)
            except Exception as e:  # the transport itself may be what broke
                _say(f"rank {self.rank}: could not notify the other ranks ({e})")
        self._abort(1)

    def _timed_out(self, name, elapsed):
        _say(f"rank {self.rank} of {self.size}: {name} did not complete within the {self.timeout:g} s timeout "
             f"(waited {elapsed:.1f} s): a peer rank has died, hung, or called a different collective; "
             f"aborting the job")
        self._abort(1)

    def dead_peers(self):
        """Ranks on this machine whose process no longer runs (gone, or a zombie)."""
        dead = []
        for r, pid in self.peers.items():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                if state in ("Z", "X"):
                    dead.append(r)
            except (FileNotFoundError, ProcessLookupError):
                dead.append(r)
            except (OSError, IndexError):
                pass
        return dead

    def _peers_died(self, dead, why=""):
        names = ", ".join(f"rank {r} (pid {self.peers[r]})" for r in dead)
        _say(f"rank {self.rank} of {self.size}: stopping because {names} died{why}")
        os._exit(1)

    def _terminated(self, sender=None):
        dead = self.dead_peers()
        if dead:
            self._peers_died(dead, " (the launcher then terminated this rank)")
        who = ""
        if sender:
            try:
                with open(f"/proc/{sender}/comm") as f:
                    who = f" from pid {sender} ({f.read().strip()})"
            except OSError:
                who = f" from pid {sender}"
        _say(f"rank {self.rank} of {self.size}: terminated by SIGTERM{who}, e.g. by the launcher because "
             f"another rank failed; see the launcher's message")
        os._exit(128 + signal.SIGTERM)

    def _peer_failed(self, src, what):
        _say(f"rank {self.rank} of {self.size}: stopping because rank {src} failed: {what}")
        try:
            self._ack(src)
        finally:
            os._exit(1)

    # transport hooks (defaults: nothing to notify, abort = exit)
    def _notify_peers(self, what, grace):
        pass

    def _poll_notice(self):
        return None

    def _ack(self, src):
        pass

    def _abort(self, code):
        os._exit(code)

    def close(self):
        self.stop_watchdog()


class _Watchdog(threading.Thread):
    def __init__(self, group):
        super().__init__(name=f"nnkernels.distributed watchdog (rank {group.rank})", daemon=True)
        self.group = group
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        if self is not threading.current_thread():
            self.join(timeout=5)

    def _sleep(self):
        """Wait POLL seconds; the SIGTERM's siginfo when one came (only when the main thread blocks it)."""
        if self.group._blocked_term:
            si = signal.sigtimedwait({signal.SIGTERM}, POLL)
            # CPython fills no siginfo when another signal interrupts the wait just before the
            # deadline, and returns it anyway: only a real SIGTERM counts
            return si if si is not None and si.si_signo == signal.SIGTERM else None
        self._stop_event.wait(POLL)
        return None

    def run(self):
        g = self.group
        while not self._stop_event.is_set():
            term = self._sleep()
            if term is not None:
                g._terminated(term.si_pid)
            if self._stop_event.is_set():
                break
            try:
                note = g._poll_notice()
            except Exception:
                note = None
            if note is not None and not self._stop_event.is_set():
                g._peer_failed(*note)
            dead = g.dead_peers()
            if dead and not self._stop_event.is_set():
                g._peers_died(dead)
            op = g._op
            if op is not None:
                elapsed = time.monotonic() - op[1]
                if elapsed > g.timeout and g._op is op:
                    g._timed_out(op[0], elapsed)
