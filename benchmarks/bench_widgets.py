"""Benchmark the course's widgets in a real JupyterLab (not a test: it prints numbers).

For every notebook in ``notebooks/`` that displays a course widget (its source uses
``course_lib.widgets``), on the student version with the solutions filled in:

1. **first display**: Run > Run All Cells in headless Chromium; for each widget cell, the
   time from the kernel's reply (the cell's prompt shows ``[n]``) until the widget has
   drawn (a panel with ``data-frame``, or an SVG: :data:`WIDGET_ROOT`), 0 if it was drawn before the
   reply came; also from the widget's output reaching the page (its view module loaded
   and run), and from the Run All click (every earlier cell's kernel work included);
2. **step redraw**: the time from a click on the widget's "next" button, and from a move
   of its frame slider, until the next animation frame after the new frame is drawn;
3. **reload**: step a few frames, reload the page, and check that the widget draws what it
   drew before (the frames of its panels, its slider, its text);
4. **saved state**: the notebook executed headless with nbclient and
   ``store_widget_state=True`` (what nbconvert or a plain ``nbgrader autograde`` save):
   the bytes of each widget's saved model state, and of the whole notebook.

Targets: first display <= 1.5 s after the kernel work; a step or a slider move redrawn
in <= 150 ms; <= 1 MB of saved state per widget; a reload redraws the frame shown.

The JupyterLab server runs on 127.0.0.1 on a free port with no token and private
Jupyter folders, and is always stopped at the end (tests/browser_lab.py). Chromium is
Debian's ``/usr/bin/chromium`` through Playwright for Python.

Run: ``.venv/bin/python benchmarks/bench_widgets.py [--chromium /usr/bin/chromium]``.
On a shared machine the numbers move with the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_browser_lab() -> ModuleType:
    """The browser tests' JupyterLab + Playwright harness, ``tests/browser_lab.py``."""
    spec = importlib.util.spec_from_file_location("browser_lab", ROOT / "tests" / "browser_lab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["browser_lab"] = module  # before running it: its dataclasses look it up
    spec.loader.exec_module(module)
    return module


lab = _load_browser_lab()
chromium_page = lab.chromium_page
open_notebook = lab.open_notebook
reload_notebook = lab.reload_notebook
run_all_cells = lab.run_all_cells
running_lab = lab.running_lab
save_notebook = lab.save_notebook
screenshot = lab.screenshot
solution_version = lab.solution_version

TARGET_FIRST_DISPLAY_S = 1.5
TARGET_REDRAW_MS = 150.0
TARGET_SAVED_BYTES = 1_000_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
#: Where a widget draws: the output of a cell showing a widget view (JupyterLab puts a
#: widget in an output panel with no ``data-mime-type``, unlike rendered MIME outputs).
#: Every course widget follows one convention inside it (breaker, cascade, bulkhead, retry
#: storm, timeout budget, mesh, runbook): each panel it draws carries ``data-frame`` (the
#: frame drawn), a button whose class ends in ``-next`` steps (``-prev`` steps back), and a
#: range input (the first one, or one whose class holds ``frame``) moves to a frame. A
#: widget with no ``data-frame`` (the timeout histogram) is timed for its first display only.
WIDGET_ROOT = ".jp-OutputArea-output:not([data-mime-type])"  # a widget view's output panel
#: A widget is drawn once its root holds one of these.
DRAWN = "[data-frame], svg"


def widget_notebooks() -> list[Path]:
    """Source notebooks (``notebooks/NAME/NAME.ipynb``) whose code uses ``course_lib.widgets``."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        if path.stem != path.parent.name:
            continue
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and "course_lib.widgets" in c.source for c in nb.cells):
            found.append(path)
    return found


# --- in the browser ---------------------------------------------------------------------

_WATCH_JS = (
    """() => {
    const cells = () => [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')];
    window.__bench = {start: performance.now(), done: {}, output: {}, shown: {}};
    const look = () => {
        const now = performance.now();
        cells().forEach((cell, i) => {
            const prompt = cell.querySelector('.jp-InputArea-prompt');
            if (!(i in window.__bench.done) && prompt && /\\[\\d+\\]/.test(prompt.textContent))
                window.__bench.done[i] = now;
            if (!(i in window.__bench.output) && cell.querySelector(
                    '[data-mime-type="application/vnd.jupyter.widget-view+json"]'))
                window.__bench.output[i] = now;
            const root = cell.querySelector(WIDGET_ROOT);
            if (!(i in window.__bench.shown) && root && root.querySelector(DRAWN))
                window.__bench.shown[i] = now;
        });
    };
    window.__benchObserver = new MutationObserver(look);
    window.__benchObserver.observe(document.body, {subtree: true, childList: true,
        attributes: true, characterData: true});
}""".replace("NOTEBOOK", NOTEBOOK)
    .replace("WIDGET_ROOT", repr(WIDGET_ROOT))
    .replace("DRAWN", repr(DRAWN))
)

#: The JS helpers that find a widget's hooks (see :data:`WIDGET_ROOT`).
_HOOKS_JS = """
    const hooks = (widget) => {
        const ranges = [...widget.querySelectorAll('input[type=range]')];
        return {
            panels: [...widget.querySelectorAll('[data-frame]')],
            next: widget.querySelector('button[class$="-next"], [class*="-next "]'),
            prev: widget.querySelector('button[class$="-prev"], [class*="-prev "]'),
            slider: ranges.find(r => /frame/.test(r.className)) || ranges[0] || null,
            label: widget.querySelector('[class$="-frame-label"]'),
        };
    };
"""

_REDRAW_JS = (
    """async ([index, how]) => {
    HOOKS
    const cell = [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')][index];
    const widget = cell.querySelector(WIDGET_ROOT);
    const h = hooks(widget);
    if (!h.panels.length || !h.next || !h.slider) return null;  // nothing to step
    const panel = h.panels[0];
    const frameOf = () => Number(panel.getAttribute('data-frame'));
    if (how === 'next' && !h.prev && frameOf() >= Number(h.slider.max)) {
        // at its last frame with no "previous" button: rewind first (not timed)
        h.slider.value = '0';
        h.slider.dispatchEvent(new Event('input', {bubbles: true}));
        const t = performance.now();
        while (frameOf() !== 0 && performance.now() - t < 10000)
            await new Promise(r => setTimeout(r, 1));
    }
    const before = frameOf();
    const paint = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    await paint();
    // step forward, or back when the widget already shows its last frame
    const last = Number(h.slider.max || before + 3);
    const back = before + (how === 'next' ? 1 : 3) > last;
    const want = how === 'next' ? before + (back ? -1 : 1) : (back ? Math.max(0, before - 3)
                                                                   : before + 3);
    const t0 = performance.now();
    if (how === 'next') {
        (back && h.prev ? h.prev : h.next).click();
    } else {
        h.slider.value = String(want);
        h.slider.dispatchEvent(new Event('input', {bubbles: true}));
    }
    while (Number(panel.getAttribute('data-frame')) !== want) {
        if (performance.now() - t0 > 10000) return -1;
        await new Promise(r => setTimeout(r, 1));
    }
    await paint();
    return performance.now() - t0;
}""".replace("NOTEBOOK", NOTEBOOK)
    .replace("WIDGET_ROOT", repr(WIDGET_ROOT))
    .replace("HOOKS", _HOOKS_JS)
)

_SHOWN_JS = (
    """(index) => {
    HOOKS
    const cell = [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')][index];
    const widget = cell && cell.querySelector(WIDGET_ROOT);
    if (!widget) return null;
    const h = hooks(widget);
    return {
        slider: h.slider ? Number(h.slider.value) : null,
        label: h.label ? h.label.textContent : null,
        drawn: h.panels.map(p => Number(p.getAttribute('data-frame'))),
        text: h.panels.map(p => p.textContent),
    };
}""".replace("NOTEBOOK", NOTEBOOK)
    .replace("WIDGET_ROOT", repr(WIDGET_ROOT))
    .replace("HOOKS", _HOOKS_JS)
)


_WIDGET_CELLS_JS = """() => [...document.querySelectorAll('NOTEBOOK .jp-CodeCell')]
    .map((c, i) => c.querySelector(WIDGET_ROOT) ? i : -1)
    .filter(i => i >= 0)""".replace("NOTEBOOK", NOTEBOOK).replace("WIDGET_ROOT", repr(WIDGET_ROOT))


def _widget_cells(page: Any) -> list[int]:
    indices: list[int] = page.evaluate(_WIDGET_CELLS_JS)
    return indices


def bench_in_browser(page: Any, server: Any, relative: str, name: str) -> list[dict[str, Any]]:
    """Open, Run All, time each widget's first display and redraws, then reload."""
    open_notebook(page, server, relative)
    page.evaluate(_WATCH_JS)
    started = time.perf_counter()
    run = run_all_cells(page, expect_all=True)
    run_all_s = time.perf_counter() - started
    if run.errors:
        print(f"  !! errors while running {name}:", *run.errors, sep="\n     ")
    indices = _widget_cells(page)
    page.wait_for_function(
        "(ix) => ix.every(i => i in window.__bench.shown)", arg=indices, timeout=60_000
    )
    marks = page.evaluate("() => window.__bench")
    results = []
    for n, index in enumerate(indices):
        done = marks["done"].get(str(index))
        shown = marks["shown"][str(index)]
        after_kernel = max(0.0, (shown - done) / 1000) if done is not None else float("nan")
        output = marks["output"].get(str(index), shown)
        step_ms = page.evaluate(_REDRAW_JS, [index, "next"])
        slider_ms = page.evaluate(_REDRAW_JS, [index, "slider"])
        results.append(
            {
                "notebook": name,
                "widget": n + 1,
                "cell": index,
                "first_display_s": after_kernel,
                "output_to_drawn_s": (shown - output) / 1000,
                "from_run_all_s": (shown - marks["start"]) / 1000,
                "step_ms": step_ms,
                "slider_ms": slider_ms,
            }
        )
        cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(index)
        screenshot(page, f"bench-{name}-widget{n + 1}", cell.locator(WIDGET_ROOT).first)
        # Leave each widget on another frame than the one it was saved with.
        page.evaluate(_REDRAW_JS, [index, "next"])
    print(f"  Run All Cells: {run_all_s:.1f} s (server round trips included)")

    # Reload (saved first, as autosave would): every widget must draw the frame its controls
    # show, the one it showed before.
    save_notebook(page)
    page.wait_for_timeout(1000)  # let the last frame changes reach the kernel
    before = {i: page.evaluate(_SHOWN_JS, i) for i in indices}
    reload_notebook(page)
    for result, index in zip(results, indices, strict=True):
        try:
            frames = len(before[index]["drawn"]) if before[index] else 0
            page.wait_for_function(
                f"() => {{ const r = ({_SHOWN_JS})({index}); "
                f"return r && r.drawn.length >= {min(frames, 1)}; }}",
                timeout=60_000,
            )
            after = page.evaluate(_SHOWN_JS, index)
        except Exception as error:  # noqa: BLE001 - reported, not raised
            after = {"error": str(error).splitlines()[0]}
        ok = "error" not in after and after == before[index]
        result["reload_ok"] = ok
        result["reload_detail"] = {"before": before[index], "after": after}
    return results


def _ms(value: float | None) -> str:
    """A redraw time for the table; ``n/a`` for a widget with no frames to step."""
    return "     n/a" if value is None else f"{value:>5.0f} ms"


# --- headless ---------------------------------------------------------------------------


def saved_state(notebook_path: Path, workdir: Path) -> dict[str, Any]:
    """Execute ``notebook_path`` with nbclient (``store_widget_state=True``); measure its state."""
    import nbclient

    nb = nbformat.read(notebook_path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env_path]))
    started = time.perf_counter()
    try:
        nbclient.NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            store_widget_state=True,
            allow_errors=True,
            resources={"metadata": {"path": str(notebook_path.parent)}},
        ).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    elapsed = time.perf_counter() - started
    out = workdir / f"executed-{notebook_path.name}"
    nbformat.write(nb, out)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = [
        o["data"][WIDGET_VIEW]["model_id"]
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]

    def size_with_children(model_id: str) -> int:
        model = state.get(model_id, {})
        total = len(json.dumps(model))
        for value in model.get("state", {}).values():
            if isinstance(value, str) and value.startswith("IPY_MODEL_"):
                total += len(json.dumps(state.get(value[len("IPY_MODEL_") :], {})))
        return total

    return {
        "executed_s": elapsed,
        "notebook_bytes": out.stat().st_size,
        "widget_state_bytes": len(json.dumps(nb.metadata.get("widgets", {}))),
        "per_widget_bytes": [size_with_children(m) for m in shown],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument(
        "--assignment", "-a", action="append", help="only this assignment (repeatable)"
    )
    args = parser.parse_args()
    notebooks = [n for n in widget_notebooks() if not args.assignment or n.stem in args.assignment]
    if not notebooks:
        print("no notebook in notebooks/ uses course_lib.widgets")
        return 0
    print("notebooks with widgets:", ", ".join(p.stem for p in notebooks))
    results: list[dict[str, Any]] = []
    saved: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="m14-bench-widgets-") as tmp:
        workdir = Path(tmp)
        served = workdir / "served"
        for source in notebooks:
            solution_version(source, served / f"{source.stem}.ipynb")
        print("\n== headless execution (nbclient, store_widget_state=True)")
        for source in notebooks:
            saved[source.stem] = info = saved_state(served / f"{source.stem}.ipynb", workdir)
            print(
                f"  {source.stem}: executed in {info['executed_s']:.1f} s; notebook "
                f"{info['notebook_bytes'] / 1e6:.3f} MB, widget state "
                f"{info['widget_state_bytes'] / 1e6:.3f} MB; per widget "
                + ", ".join(f"{b / 1e3:.1f} kB" for b in info["per_widget_bytes"])
            )
        print("\n== JupyterLab in headless Chromium")
        with (
            running_lab(workdir / "lab", served) as server,
            chromium_page(args.chromium, workdir / "chromium") as page,
        ):
            for source in notebooks:
                print(f"  {source.stem}:")
                results += bench_in_browser(page, server, f"{source.stem}.ipynb", source.stem)
    print()
    header = (
        f"{'notebook':<24} {'#':>2} {'first display':>14} {'(from output)':>14} "
        f"{'(from Run All)':>15} "
        f"{'step':>8} {'slider':>8} {'saved state':>12} {'reload':>7}"
    )
    print(header)
    print("-" * len(header))
    met = bool(results)
    if not results:
        print("!! no widget was found on the page: nothing measured")
    for result in results:
        per_widget = saved[result["notebook"]]["per_widget_bytes"]
        n = result["widget"] - 1
        size = per_widget[n] if n < len(per_widget) else float("nan")
        print(
            f"{result['notebook']:<24} {result['widget']:>2} "
            f"{result['first_display_s']:>12.2f} s {result['output_to_drawn_s']:>12.2f} s "
            f"{result['from_run_all_s']:>13.2f} s "
            f"{_ms(result['step_ms'])} {_ms(result['slider_ms'])} "
            f"{size / 1e3:>9.1f} kB {'yes' if result['reload_ok'] else 'NO':>7}"
        )
        if not result["reload_ok"]:
            print("     reload:", json.dumps(result["reload_detail"]))
        met &= (
            result["first_display_s"] <= TARGET_FIRST_DISPLAY_S
            and all(
                ms is None or 0 <= ms <= TARGET_REDRAW_MS
                for ms in (result["step_ms"], result["slider_ms"])
            )
            and size <= TARGET_SAVED_BYTES
            and result["reload_ok"]
        )
    print(
        f"\ntargets: first display <= {TARGET_FIRST_DISPLAY_S} s after the kernel work, "
        f"redraw <= {TARGET_REDRAW_MS:.0f} ms, saved state <= {TARGET_SAVED_BYTES / 1e6:.0f} MB "
        f"per widget, reload redraws the frame shown: {'MET' if met else 'NOT MET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
