"""The benchmark's output, not its speed: rows stream as they are measured with a time-left
line on a terminal, and the ratio table is drawn as a bar chart (from results or from the
markdown tables of benchmarks/RESULTS.md)."""
import io
import pathlib

import pytest

from nnkernels import bench
from nnkernels.bench.plot import plot_ratios, ratios_from_markdown, ratios_from_results


def rows(n=3):
    return [bench.Row("toy", f"row {i}", 1e6, "GFLOP/s", lambda: None, {"numpy": lambda: None}) for i in range(n)]


def test_rows_stream_in_order_with_a_time_left_line():
    out = io.StringIO()
    seen = []

    class Spy(io.StringIO):                    # records how many rows were out when status was drawn
        def isatty(self):
            return True

        def write(self, s):
            seen.append((out.getvalue().count("| toy |"), s))
            return super().write(s)
    results = bench.stream_rows(rows(3), reps=1, min_time=0.0, out=out, status=Spy())
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("| group | shape |") and len(lines) == 2 + 3
    assert [ln.split("|")[2].strip() for ln in lines[2:]] == ["row 0", "row 1", "row 2"]
    assert len(results) == 3
    drawn = [(k, s) for k, s in seen if "so far" in s]
    assert [k for k, _ in drawn] == [0, 1, 2]                          # one status line before each row
    assert "estimating" in drawn[0][1] and "left" in drawn[1][1] and "[2/3]" in drawn[1][1]


def test_no_status_line_off_a_terminal():
    out, status = io.StringIO(), io.StringIO()
    bench.stream_rows(rows(2), reps=1, min_time=0.0, out=out, status=status)
    assert status.getvalue() == "" and out.getvalue().count("| toy |") == 2


def test_progress_estimate_weights_rows_by_their_functions():
    p = bench.Progress([rows(1)[0], bench.Row("toy", "r", 1.0, "GB/s", lambda: None, {})], io.StringIO())
    assert p.estimate() is None
    p.start -= 4.0                                                      # 4 s for the first row (2 functions)
    p.end()
    assert p.estimate() == pytest.approx(2.0, rel=0.2)                  # 1 function left


def test_ratios_from_markdown_reads_format_table():
    res = bench.run_rows(rows(2), reps=1, min_time=0.0)
    md = "intro\n\n" + bench.format_table(res) + "\n\ntext | not a table\n"
    got = ratios_from_markdown(md)
    assert [(g, s) for g, s, _ in got] == [("toy", "row 0"), ("toy", "row 1")]
    want = ratios_from_results(res)
    for (_, _, a), (_, _, b) in zip(got, want):
        assert a.keys() == {"numpy"} and a["numpy"] == pytest.approx(b["numpy"], rel=0.01, abs=0.01)


def test_results_md_tables_parse():
    text = (pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "RESULTS.md").read_text()
    got = ratios_from_markdown(text)
    assert len(got) > 20 and all(r for _, _, r in got)


def test_plot_ratios_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    data = [("gemm", "64³", {"numpy": 0.4, "torch": 0.7}), ("conv", "x", {"torch": 1.3})]
    path = plot_ratios(data, str(tmp_path / "b.png"), "title", "machine")
    assert pathlib.Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_ratios([], str(tmp_path / "c.png"), "t")
