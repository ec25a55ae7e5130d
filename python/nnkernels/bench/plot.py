"""The ratio table as a picture: one horizontal bar per benchmark row and peer, one colour
per peer, a line at 1.0 (parity), the machine in the title. Used by
`python -m nnkernels --plot PNG` and `benchmarks/report.py --plot PNG`.

Rows come either from results measured in this process (`ratios_from_results`) or from
the markdown tables that `format_table` wrote into benchmarks/RESULTS.md
(`ratios_from_markdown`), so a picture is always drawn from a measurement.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

RatioRow = Tuple[str, str, Dict[str, float]]      # (group, shape label, {peer: ratio})

COLOURS = {"numpy": "#4C72B0", "torch": "#DD8452", "cupy": "#55A868", "cublas": "#55A868"}
_SPARE = ["#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def ratios_from_results(results) -> List[RatioRow]:
    return [(r.row.group, r.row.label, {p: r.ratio(p) for p in r.seconds if p != "nnkernels"}) for r in results]


def ratios_from_markdown(text: str) -> List[RatioRow]:
    """Every row of every `| group | shape | ... | ratio vs <peer> | ...` table in `text`."""
    rows: List[RatioRow] = []
    cols = None
    for line in text.splitlines():
        if not line.startswith("|"):
            cols = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["group", "shape"]:
            cols = cells
            continue
        if cols is None or set(line) <= set("|-: "):
            continue
        ratios = {}
        for name, cell in zip(cols, cells):
            m = re.fullmatch(r"ratio vs (\S+)", name)
            v = re.fullmatch(r"([0-9.]+)×", cell)
            if m and v:
                ratios[m.group(1)] = float(v.group(1))
        if ratios:
            rows.append((cells[0], cells[1], ratios))
    return rows


def plot_ratios(rows: List[RatioRow], path: str, title: str, subtitle: str = "") -> str:
    """Draw `rows` as grouped horizontal bars (log scale, 1.0 = as fast as the peer) into `path`."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("the benchmark plot needs matplotlib: pip install 'nnkernels[bench]'") from e
    if not rows:
        raise ValueError("plot_ratios: no rows with a ratio to draw")
    peers: List[str] = []
    for _, _, r in rows:
        peers += [p for p in r if p not in peers]
    spare = iter(_SPARE)
    colour = {p: COLOURS.get(p) or next(spare) for p in peers}
    n, k = len(rows), len(peers)
    h = 0.8 / k
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.19 * n * max(1.0, 0.7 * k)))
    vals = [v for _, _, r in rows for v in r.values()]
    lo, hi = min(min(vals), 0.5) / 1.4, max(max(vals), 2.0) * 1.6
    labelled = set()
    for i, (_, _, r) in enumerate(rows):
        for j, p in enumerate(peers):
            if p not in r:
                continue
            y = i - 0.4 + h * (j + 0.5)
            ax.barh(y, r[p], height=h * 0.92, color=colour[p], label=None if p in labelled else p)
            labelled.add(p)
            ax.text(r[p] * 1.04, y, f"{r[p]:.2f}×", va="center", fontsize=6.5)
    groups = [g for g, _, _ in rows]
    for i in range(1, n):
        if groups[i] != groups[i - 1]:
            ax.axhline(i - 0.5, color="#bbbbbb", lw=0.6)
    ax.axvline(1.0, color="black", lw=0.9)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{g} · {s}" for g, s, _ in rows], fontsize=7)
    ax.set_xlabel("nnkernels throughput / peer throughput (log scale; > 1: nnkernels faster)")
    ax.legend(loc="lower right", fontsize=8, title="peer", title_fontsize=8)
    import textwrap
    lines = textwrap.wrap(title, 105) + textwrap.wrap(subtitle, 115)
    fig.suptitle("\n".join(lines), fontsize=8.5)
    ax.grid(axis="x", which="both", alpha=0.25)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.16 * len(lines) + 0.1) / fig.get_figheight()))
    fig.savefig(path, dpi=72)
    plt.close(fig)
    _palette(path)
    return path


def _palette(path: str) -> None:
    """Rewrite a PNG with a 64-colour palette (a third of the bytes; the chart has few colours)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(64)
    small.save(path, optimize=True)
