"""Benchmark notebook 06's incident-timeline widget in a real JupyterLab (prints numbers).

``benchmarks/bench_widgets.py`` finds every notebook using ``course_lib.widgets`` but
times the breaker widget's DOM hooks (``.breaker-panel[data-frame]``,
``.breaker-next``...), so it lists notebook 06 without timing its widget. This script
measures the same four figures for ``course_lib/widgets/runbook_widget.js``, reusing
``bench_widgets``' headless execution (``saved_state``) and ``tests/browser_lab.py``:

1. **first display**: Run All on the solution version; the time from the kernel's reply
   to the widget's cell until its chart and cursor are drawn;
2. **step redraw**: from a click on "next", and from a slider move, until the next
   animation frame after the new frame is drawn;
3. **reload**: step, save, reload: the widget must draw the frame its controls show;
4. **saved state**: the bytes of the widget's saved model state (nbclient).

Targets (the course's): first display <= 1.5 s, redraw <= 150 ms, saved state <= 1 MB,
Run All of the solution <= 15 s.

Run: ``.venv/bin/python benchmarks/bench_runbook_widget.py [--chromium /usr/bin/chromium]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "06-ha-dr-runbook"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("bench_widgets", ROOT / "benchmarks" / "bench_widgets.py")
lab = sys.modules["browser_lab"]

_WATCH_JS = """() => {
    const cells = () => [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')];
    window.__bench = {start: performance.now(), done: {}, shown: {}};
    const look = () => {
        const now = performance.now();
        cells().forEach((cell, i) => {
            const prompt = cell.querySelector('.jp-InputArea-prompt');
            if (!(i in window.__bench.done) && prompt && /\\[\\d+\\]/.test(prompt.textContent))
                window.__bench.done[i] = now;
            if (!(i in window.__bench.shown)
                && cell.querySelector('.runbook-widget[data-frame] .runbook-cursor'))
                window.__bench.shown[i] = now;
        });
    };
    window.__benchObserver = new MutationObserver(look);
    window.__benchObserver.observe(document.body, {subtree: true, childList: true,
        attributes: true, characterData: true});
}""".replace("NOTEBOOK", NOTEBOOK)

_REDRAW_JS = """async ([index, how]) => {
    const cell = [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')][index];
    const widget = cell.querySelector('.runbook-widget');
    const before = Number(widget.dataset.frame);
    const paint = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    await paint();
    const t0 = performance.now();
    if (how === 'next') {
        widget.querySelector('.runbook-next').click();
    } else {
        const slider = widget.querySelector('.runbook-slider');
        slider.value = String(before + 3);
        slider.dispatchEvent(new Event('input', {bubbles: true}));
    }
    const want = how === 'next' ? before + 1 : before + 3;
    while (Number(widget.dataset.frame) !== want) {
        if (performance.now() - t0 > 10000) return -1;
        await new Promise(r => setTimeout(r, 1));
    }
    await paint();
    return performance.now() - t0;
}""".replace("NOTEBOOK", NOTEBOOK)

_SHOWN_JS = """(index) => {
    const cell = [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')][index];
    const widget = cell && cell.querySelector('.runbook-widget');
    if (!widget || !widget.querySelector('.runbook-cursor')) return null;
    return {
        slider: Number(widget.querySelector('.runbook-slider').value),
        drawn: Number(widget.dataset.frame),
        readout: widget.querySelector('.runbook-readout').textContent,
    };
}""".replace("NOTEBOOK", NOTEBOOK)


def in_browser(page: Any, server: Any) -> dict[str, Any]:
    lab.open_notebook(page, server, f"{NAME}.ipynb")
    page.evaluate(_WATCH_JS)
    started = time.perf_counter()
    run = lab.run_all_cells(page, expect_all=True)
    run_all_s = time.perf_counter() - started
    if run.errors:
        print("  !! errors:", *run.errors, sep="\n     ")
    index: int = page.evaluate(
        f"""() => [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell')]
            .findIndex(c => c.querySelector('.runbook-widget'))"""
    )
    page.wait_for_function("(i) => i in window.__bench.shown", arg=index, timeout=60_000)
    marks = page.evaluate("() => window.__bench")
    done, shown = marks["done"].get(str(index)), marks["shown"][str(index)]
    result: dict[str, Any] = {
        "run_all_s": run_all_s,
        "first_display_s": max(0.0, (shown - done) / 1000) if done is not None else float("nan"),
        "step_ms": page.evaluate(_REDRAW_JS, [index, "next"]),
        "slider_ms": page.evaluate(_REDRAW_JS, [index, "slider"]),
    }
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(index)
    lab.screenshot(page, f"bench-{NAME}-widget", cell.locator(".runbook-widget"))
    page.evaluate(_REDRAW_JS, [index, "next"])
    lab.save_notebook(page)
    page.wait_for_timeout(1000)  # let the last frame change reach the kernel
    before = page.evaluate(_SHOWN_JS, index)
    lab.reload_notebook(page)
    page.wait_for_function(f"() => ({_SHOWN_JS})({index}) !== null", timeout=60_000)
    after = page.evaluate(_SHOWN_JS, index)
    result["reload_ok"] = after == before and after["drawn"] == after["slider"]
    result["reload_detail"] = {"before": before, "after": after}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    source = ROOT / "notebooks" / NAME / f"{NAME}.ipynb"
    with tempfile.TemporaryDirectory(prefix="m14-bench-06-") as tmp:
        workdir = Path(tmp)
        served = workdir / "served"
        lab.solution_version(source, served / f"{NAME}.ipynb")
        saved = bench.saved_state(served / f"{NAME}.ipynb", workdir)
        with (
            lab.running_lab(workdir / "lab", served) as server,
            lab.chromium_page(args.chromium, workdir / "chromium") as page,
        ):
            result = in_browser(page, server)
    size = saved["per_widget_bytes"][0] if saved["per_widget_bytes"] else float("nan")
    print(f"headless execution (nbclient): {saved['executed_s']:.1f} s")
    print(f"Run All Cells in JupyterLab:   {result['run_all_s']:.1f} s (target <= 15 s)")
    print(f"first display:                 {result['first_display_s']:.2f} s (target <= 1.5 s)")
    print(f"step redraw:                   {result['step_ms']:.0f} ms (target <= 150 ms)")
    print(f"slider redraw:                 {result['slider_ms']:.0f} ms (target <= 150 ms)")
    print(f"saved widget state:            {size / 1e3:.1f} kB (target <= 1 MB)")
    print(f"reload redraws the frame shown: {'yes' if result['reload_ok'] else 'NO'}")
    if not result["reload_ok"]:
        print("  ", result["reload_detail"])
    met = (
        result["run_all_s"] <= 15
        and result["first_display_s"] <= 1.5
        and 0 <= result["step_ms"] <= 150
        and 0 <= result["slider_ms"] <= 150
        and size <= 1_000_000
        and result["reload_ok"]
    )
    print(f"targets: {'MET' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
