"""Launcher: `python -m nnkernels.distributed.run -n N script.py [args...]` runs N ranks of the
script on this machine through mpirun, for users who don't know mpirun.

    python -m nnkernels.distributed.run -n 2 train.py --epochs 3
    python -m nnkernels.distributed.run -n 2 --threads 1 train.py     # 1 kernel thread per rank
    python -m nnkernels.distributed.run -n 2 --dry-run train.py       # print the mpirun line only

It finds mpirun (beside this Python first, where `pip install "nnkernels[distributed]"`
puts Open MPI's, then on PATH) and builds, for Open MPI:

    mpirun -n N [--allow-run-as-root] --bind-to none --mca btl self,sm PYTHON script.py args...

- `--allow-run-as-root`: Open MPI refuses to start as root without it (containers, CI);
  added only when running as root. MPICH's mpiexec needs nothing.
- `--bind-to none`: each rank's kernels may use several cores; Open MPI would otherwise
  pin each rank to one core.
- `--mca btl self,sm`: all ranks are on this machine, so messages go through shared
  memory, never TCP.
- `--threads T` sets OMP_NUM_THREADS for every rank; without it each rank takes
  cores // N threads (nnkernels.distributed.init_process_group does that).
- `--timeout S` sets NNKERNELS_DIST_TIMEOUT, the limit on every collective.
  (The ranks inherit the launcher's environment: they all run on this machine.)
- `--mpi-arg=ARG` (repeatable) passes ARG to mpirun, e.g. `--mpi-arg=--hostfile --mpi-arg=hosts`.

The exit status is mpirun's: non-zero when any rank failed. Then the launcher repeats, last,
what the ranks said about the failure (which rank raised, died or timed out): mpirun may
drop a rank's last output while it ends the job, so the ranks also write those lines to
a file the launcher names in NNKERNELS_DIST_REPORT.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def find_mpirun():
    here = os.path.dirname(sys.executable)
    for name in ("mpirun", "mpiexec"):
        p = os.path.join(here, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    for name in ("mpirun", "mpiexec"):
        p = shutil.which(name)
        if p:
            return p
    return None


def mpi_flavour(mpirun):
    """'openmpi', 'mpich' or 'unknown', from `mpirun --version`."""
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if "Open MPI" in out or "OpenRTE" in out or "PRRTE" in out:
        return "openmpi"
    if "HYDRA" in out or "MPICH" in out:
        return "mpich"
    return "unknown"


def build_command(n, script_args, mpirun=None, flavour=None, mpi_args=(), module=False,
                  is_root=None):
    mpirun = mpirun or find_mpirun()
    if mpirun is None:
        raise SystemExit("nnkernels.distributed.run: no mpirun found; pip install \"nnkernels[distributed]\" "
                         "(Open MPI and mpi4py) or install an MPI library")
    flavour = flavour or mpi_flavour(mpirun)
    is_root = (os.geteuid() == 0) if is_root is None else is_root
    cmd = [mpirun, "-n", str(n)]
    if flavour == "openmpi":
        if is_root:
            cmd.append("--allow-run-as-root")
        cmd += ["--bind-to", "none", "--mca", "btl", "self,sm"]
    cmd += list(mpi_args)
    cmd += [sys.executable] + (["-m"] if module else []) + list(script_args)
    return cmd


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m nnkernels.distributed.run",
                                 description="Run N ranks of a Python script on this machine through mpirun.")
    ap.add_argument("-n", "--nproc", type=int, required=True, help="number of ranks")
    ap.add_argument("--threads", type=int, default=None, help="kernel threads per rank (OMP_NUM_THREADS)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds any collective may take")
    ap.add_argument("--mpi-arg", action="append", default=[], help="an extra argument for mpirun (repeatable)")
    ap.add_argument("-m", dest="module", action="store_true", help="run the script as a module (python -m)")
    ap.add_argument("--dry-run", action="store_true", help="print the command and exit")
    ap.add_argument("script", help="the script (or module, with -m)")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    a = ap.parse_args(argv)
    if a.nproc < 1:
        ap.error(f"-n must be >= 1, got {a.nproc}")
    if a.threads is not None and a.threads < 1:
        ap.error(f"--threads must be >= 1, got {a.threads}")
    cmd = build_command(a.nproc, [a.script] + a.args, mpi_args=a.mpi_arg, module=a.module)
    env = dict(os.environ)
    if a.timeout is not None:
        env["NNKERNELS_DIST_TIMEOUT"] = str(a.timeout)
    if a.threads is not None:
        env["OMP_NUM_THREADS"] = str(a.threads)
    if a.dry_run:
        print(" ".join(([f"OMP_NUM_THREADS={a.threads}"] if a.threads is not None else []) +
                       ([f"NNKERNELS_DIST_TIMEOUT={a.timeout:g}"] if a.timeout is not None else []) + cmd))
        return 0
    fd, report = tempfile.mkstemp(prefix="nnkernels-dist-", suffix=".log")
    os.close(fd)
    env["NNKERNELS_DIST_REPORT"] = report
    try:
        rc = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        rc = 130
    try:
        with open(report) as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    finally:
        os.unlink(report)
    if rc != 0 and lines:
        sys.stderr.write("nnkernels.distributed.run: the job failed (exit status %d); the ranks said:\n" % rc)
        sys.stderr.write("".join(f"  {ln}\n" for ln in lines))
        sys.stderr.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
