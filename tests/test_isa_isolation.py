"""No AVX code outside the *_avx2.cpp translation units.

The generic path must run on any x86-64 CPU, so only objects built from files named
*_avx2.cpp may contain VEX-encoded (ymm) instructions. This checks the object files of
the build tree (pyproject's build-dir) with objdump; it skips where either is missing.
"""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _objects():
    return sorted(glob.glob(os.path.join(ROOT, "build", "*", "CMakeFiles", "_C.dir", "**", "*.o"), recursive=True))


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump not installed")
def test_only_avx2_objects_use_ymm_registers():
    objs = _objects()
    if not objs:
        pytest.skip("no build tree with object files next to the tests")
    avx2 = [o for o in objs if os.path.basename(o).endswith("_avx2.cpp.o")]
    generic = [o for o in objs if o not in avx2]
    assert avx2, "expected at least one *_avx2.cpp object"
    offenders = []
    for o in generic:
        text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", o], capture_output=True, text=True).stdout
        if "%ymm" in text:
            offenders.append(os.path.relpath(o, ROOT))
    assert not offenders, f"AVX instructions in generic objects: {offenders}"
    # and the AVX2 objects really hold AVX2 code (the flags reached them)
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", avx2[0]], capture_output=True, text=True).stdout
    assert "vfmadd" in text or "%ymm" in text


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm not installed")
def test_avx2_objects_define_no_weak_symbols():
    """A weak (COMDAT) symbol from an AVX2 object, such as an inline function or a template
    instance, could be the copy the linker keeps for generic callers too."""
    avx2 = [o for o in _objects() if os.path.basename(o).endswith("_avx2.cpp.o")]
    if not avx2:
        pytest.skip("no build tree with object files next to the tests")
    bad = []
    for o in avx2:
        for line in subprocess.run(["nm", "-C", o], capture_output=True, text=True).stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1] in ("W", "V"):
                bad.append(f"{os.path.basename(o)}: {parts[2]}")
    assert not bad, "weak symbols in AVX2 objects: " + "; ".join(bad[:10])
