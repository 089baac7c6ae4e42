"""``python -m rpnumpy demo``: the tour in quick mode finishes, prints its table and writes an offline report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from rpnumpy.experiments.demo import STEPS, format_table, published
from rpnumpy.experiments.html import markdown_to_html


@pytest.mark.data
def test_quick_demo_prints_the_table_and_writes_an_offline_report(mnist, tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "rpnumpy", "demo", "--quick", "--no-download", "--out", str(out)],
                            capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if re.match(r"\[\d/\d\] ", line)] == [
        f"[{i}/{len(STEPS)}] {what}" for i, (what, _) in enumerate(STEPS, start=1)]
    assert sum("last full run (date)" in line for line in lines) == 1  # one summary table
    table = result.stdout[result.stdout.index("Summary"):]
    for shown in ("gradient check", "rnd-256-N", "PRP 784-512-256-10", "Johnson", "random features",
                  "fully bundled", "EUGen"):
        assert shown in table
    assert "(2026-11-28)" in table and "(2026-11-29)" in table  # the last full reproduction, with its date
    assert "Epoch" not in result.stdout + result.stderr and "it/s" not in result.stderr  # no per-epoch output

    text = (out / "report.md").read_text()
    assert "### Summary" in text and "FAIL" not in text and "| NO |" not in text
    assert "### 7. EUGen" in text and "(quick run)" in text
    html = (out / "report.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert len(images) == len(list((out / "figures").glob("*.png"))) >= 1
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "<script" not in html and "<link" not in html and "url(" not in html and "@import" not in html


def test_published_numbers_carry_their_dates():
    data = published()
    for key, entry in data.items():
        if key not in ("about", "paper"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"]) and "value" in entry, key


def test_markdown_renderer_escapes_and_embeds(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    page = markdown_to_html("# T\n\nx < y **b** *e* `a*b*`\n\n| h | i |\n| --- | --- |\n| 1 | 2 |\n\n"
                            "![cap](figures/a.png)\n\n- one\n- two [web](https://example.org)", tmp_path)
    assert "<h1>T</h1>" in page and "x &lt; y <strong>b</strong> <em>e</em> <code>a*b*</code>" in page
    assert "<tr><td>1</td><td>2</td></tr>" in page and 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in page
    assert "<li>one</li>" in page and "<li>two web</li>" in page and "https://" not in page  # not linked


def test_format_table_wraps_to_the_width():
    text = format_table(["a", "b"], [["x" * 30, "y y y y y y y y y y y y y y y y y y y"]], width=40)
    assert max(len(line) for line in text.splitlines()) <= 40 and text.count("\n") >= 3
