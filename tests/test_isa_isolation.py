"""Each ISA's instructions stay in that ISA's translation units.

The generic path must run on any x86-64 CPU and the avx2 path on any AVX2 CPU, so:
- objects of generic files (neither *_avx2.cpp nor *_avx512.cpp) hold no ymm or zmm code;
- objects of *_avx2.cpp files hold no zmm code (nor opmask instructions);
- no ISA object defines a weak symbol (an inline function or template instance whose
  ISA-compiled copy the linker could keep for callers of a lower path).
This checks the object files of the build tree (pyproject's build-dir) with objdump and
nm; it skips where either is missing.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZMM = re.compile(r"%zmm|%k[1-7]\b")


def _objects():
    return sorted(glob.glob(os.path.join(ROOT, "build", "*", "CMakeFiles", "_C.dir", "**", "*.o"), recursive=True))


def _split(objs):
    avx2 = [o for o in objs if os.path.basename(o).endswith("_avx2.cpp.o")]
    avx512 = [o for o in objs if os.path.basename(o).endswith("_avx512.cpp.o")]
    generic = [o for o in objs if o not in avx2 and o not in avx512]
    return generic, avx2, avx512


def _disasm(o):
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", o], capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump not installed")
def test_vector_registers_stay_in_their_isa_objects():
    objs = _objects()
    if not objs:
        pytest.skip("no build tree with object files next to the tests")
    generic, avx2, avx512 = _split(objs)
    assert avx2 and avx512, "expected *_avx2.cpp and *_avx512.cpp objects"
    offenders = []
    for o in generic:
        text = _disasm(o)
        if "%ymm" in text or ZMM.search(text):
            offenders.append("generic " + os.path.relpath(o, ROOT))
    for o in avx2:
        if ZMM.search(_disasm(o)):
            offenders.append("avx2 " + os.path.relpath(o, ROOT))
    assert not offenders, f"instructions above the object's ISA: {offenders}"
    # and the ISA objects really hold their code (the flags reached them)
    assert "vfmadd" in _disasm(next(o for o in avx2 if "gemm_ukernel" in o))
    assert "%zmm" in _disasm(next(o for o in avx512 if "gemm_ukernel" in o))


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm not installed")
def test_isa_objects_define_no_weak_symbols():
    """A weak (COMDAT) symbol from an ISA object, such as an inline function or a template
    instance, could be the copy the linker keeps for generic callers too."""
    _, avx2, avx512 = _split(_objects())
    if not avx2:
        pytest.skip("no build tree with object files next to the tests")
    bad = []
    for o in avx2 + avx512:
        for line in subprocess.run(["nm", "-C", o], capture_output=True, text=True).stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[1] in ("W", "V", "u"):
                bad.append(f"{os.path.basename(o)}: {parts[2]}")
    assert not bad, "weak symbols in ISA objects: " + "; ".join(bad[:10])
