"""What the launcher told this process: its rank, the world size and the ranks on its machine.

Read from the environment only (no MPI call), so it works before any backend starts:

    launcher            rank                   world size            local rank / local size
    Open MPI mpirun     OMPI_COMM_WORLD_RANK   OMPI_COMM_WORLD_SIZE  OMPI_COMM_WORLD_LOCAL_RANK / _LOCAL_SIZE
    MPICH (Hydra)       PMI_RANK               PMI_SIZE              MPI_LOCALRANKID / MPI_LOCALNRANKS
    PMIx (any)          PMIX_RANK              -                     -
    torchrun-style      RANK                   WORLD_SIZE            LOCAL_RANK / LOCAL_WORLD_SIZE
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

_RANK = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "RANK")
_SIZE = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE")
_LOCAL_RANK = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "LOCAL_RANK")
_LOCAL_SIZE = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "LOCAL_WORLD_SIZE")
MPI_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK")


class LaunchEnv(NamedTuple):
    rank: Optional[int]
    world_size: Optional[int]
    local_rank: Optional[int]
    local_size: Optional[int]
    source: str             # which launcher's variables were found ('' when none)


def _first(env, names):
    for n in names:
        v = env.get(n)
        if v not in (None, ""):
            try:
                return int(v), n
            except ValueError:
                raise ValueError(f"nnkernels.distributed: environment variable {n}={v!r} is not an integer")
    return None, None


def launch_env(env=None) -> LaunchEnv:
    """The rank, world size and local rank/size the launcher set (None where it set nothing)."""
    env = os.environ if env is None else env
    rank, rname = _first(env, _RANK)
    size, _ = _first(env, _SIZE)
    local_rank, _ = _first(env, _LOCAL_RANK)
    local_size, _ = _first(env, _LOCAL_SIZE)
    source = {"OMPI_COMM_WORLD_RANK": "Open MPI", "PMI_RANK": "MPICH", "PMIX_RANK": "PMIx",
              "RANK": "RANK/WORLD_SIZE"}.get(rname, "")
    if rank is not None and size is not None and not 0 <= rank < size:
        raise ValueError(f"nnkernels.distributed: the launcher's rank {rank} is outside the world size {size} "
                         f"(from {source} variables)")
    return LaunchEnv(rank, size, local_rank, local_size, source)


def under_mpi_launcher(env=None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(n) for n in MPI_LAUNCHER_VARS)


def default_threads(local_size: int, env=None) -> Optional[int]:
    """Threads per rank: the cores this process may use divided among the ranks on this machine
    (at least 1); None when OMP_NUM_THREADS is set, which then wins."""
    env = os.environ if env is None else env
    if env.get("OMP_NUM_THREADS"):
        return None
    cores = os.cpu_count() or 1
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = cores
    return max(1, min(allowed, cores // max(1, local_size)))
