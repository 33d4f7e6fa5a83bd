"""Which CPUs a benchmark process runs on: both sides of a comparison on the same ones.

The vCPUs of a shared machine are not equal. On the 2-vCPU development host one of them takes the host's
interrupts: pinned there, the same binary (ours or ONNX Runtime) ran 5-8% slower than on the other. Unpinned, the
scheduler placed the two runtimes differently (node's compute thread landed on the quiet CPU more often than a
single-threaded `edgeforge bench`), so 1-thread ratios measured CPU placement as much as code. Pinned, every
process of a comparison runs on the same CPUs: by default the last `threads` CPUs this script may use (no pinning
when that is all of them).
"""
import os


def cpus_for(threads, mode="auto"):
    """The CPU set for processes with `threads` threads: None (no pinning) for mode 'none' or when the set would be
    every allowed CPU; mode 'auto' takes the last `threads` allowed CPUs; else a comma-separated list."""
    if mode == "none":
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if mode != "auto":
        return {int(c) for c in mode.split(",")}
    return None if threads >= len(allowed) else set(allowed[-threads:])


def preexec(cpus):
    """A subprocess preexec_fn pinning the child to `cpus` (None: no pinning)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def describe(cpus):
    return "unpinned" if cpus is None else "CPU " + ",".join(str(c) for c in sorted(cpus))
