// The timeout widgets' view (course_lib/widgets/timeout_widget.py).
//
// kind "latency": a histogram of latencies (milliseconds) with a red timeout line; drag the
// line (or its slider) and the share of samples slower than it, the requests such a timeout
// would cut, is shown. The line's position is the synced `timeout_ms` trait.
// kind "budget": one row per chain run, one bar per service: the budget it had on arrival,
// the part it spent working, what it passed on; `frame` hops are shown (Play, next, slider).
// Everything is drawn from the model, so a reload draws what the controls show.
//
// Both follow the course's presenter convention (presenter.js, put in front of this file).
// Keys once the widget has focus: on the histogram → / ← move the timeout line to the next
// / previous bin edge (one bar more or fewer cut), Home / End to the first / last edge; on
// the budget → / ← show one hop more / fewer, Home / End none / all, Space plays.

const SVG = "http://www.w3.org/2000/svg";
const W = 620;
const H = 220;
const PAD = { left: 46, right: 14, top: 14, bottom: 34 };

function el(tag, attrs = {}, text = null) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// Samples strictly greater than t in an ascending array.
function slowerThan(sorted, t) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length - lo;
}

// The budget's frames: 0 .. frames hops shown (so frames + 1 of them).
function budgetFrames(model) {
  return m14Frames(model, (m) => (Number(m.get("frames")) || 0) + 1, { intervalMs: 600 });
}

// The bin edge after (delta 1) or before (delta -1) the timeout `t`; `t` when there is none.
// Edges within 0.05 ms of `t` count as `t` itself (the kernel rounds the timeout to 0.1 ms).
function nextEdge(edges, t, delta) {
  if (delta > 0) return edges.find((edge) => edge > t + 0.05) ?? t;
  return [...edges].reverse().find((edge) => edge < t - 0.05) ?? t;
}

function renderLatency(model, root) {
  // A log scale: latencies have long tails (the edges come log-spaced from the kernel).
  const range = () => {
    const edges = model.get("edges");
    return [Math.log(edges[0] || 0.1), Math.log(edges[edges.length - 1] || 1000)];
  };
  const span = W - PAD.left - PAD.right;
  const x = (ms) => {
    const [lo, hi] = range();
    const v = Math.log(Math.max(ms, Math.exp(lo)));
    return PAD.left + ((Math.min(v, hi) - lo) / (hi - lo)) * span;
  };
  const msAt = (px) => {
    const [lo, hi] = range();
    const f = Math.max(0, Math.min(1, (px - PAD.left) / span));
    return Math.exp(lo + f * (hi - lo));
  };

  const readout = el("div", { class: "timeout-readout" });
  const svg = el("svg:svg", { class: "timeout-hist", viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  const bars = el("svg:g");
  const axis = el("svg:g", { class: "timeout-axis" });
  const line = el("svg:line", { class: "timeout-line" });
  const handle = el("svg:rect", { class: "timeout-handle", width: 14, height: 18, rx: 3 });
  const label = el("svg:text", { class: "timeout-line-label" });
  svg.append(bars, axis, line, handle, label);
  const slider = el("input", { type: "range", class: "timeout-slider", min: 0, step: 1 });
  root.append(readout, svg, slider);

  function drawStatic() {
    bars.replaceChildren();
    axis.replaceChildren();
    const edges = model.get("edges");
    const counts = model.get("counts");
    const most = Math.max(1, ...counts);
    const base = H - PAD.bottom;
    counts.forEach((count, i) => {
      const h = (count / most) * (base - PAD.top);
      bars.append(el("svg:rect", {
        class: "timeout-bar", x: x(edges[i]) + 0.5, y: base - h,
        width: Math.max(1, x(edges[i + 1]) - x(edges[i]) - 1), height: h,
        "data-lo": edges[i], "data-hi": edges[i + 1],
      }));
    });
    axis.append(el("svg:line", { x1: PAD.left, x2: W - PAD.right, y1: base, y2: base }));
    const [lo, hi] = range();
    for (let decade = Math.pow(10, Math.floor(lo / Math.LN10)); decade <= Math.exp(hi); decade *= 10) {
      for (const m of [1, 2, 5]) {
        const ms = decade * m;
        if (ms < Math.exp(lo) || ms > Math.exp(hi)) continue;
        axis.append(el("svg:line", { x1: x(ms), x2: x(ms), y1: base, y2: base + 4 }));
        axis.append(el("svg:text", { x: x(ms), y: base + 15, "text-anchor": "middle" },
          ms >= 1000 ? `${ms / 1000} s` : `${ms}`));
      }
    }
    axis.append(el("svg:text", { x: W - PAD.right, y: H - 2, "text-anchor": "end" }, "latency (ms, log scale)"));
    axis.append(el("svg:text", { x: 4, y: PAD.top + 4 }, `${most}`));
    slider.max = "1000";
  }

  function drawLine() {
    const t = Number(model.get("timeout_ms")) || 0;
    const sorted = model.get("sorted_ms") || [];
    const cut = slowerThan(sorted, t);
    const share = sorted.length ? cut / sorted.length : 0;
    const px = x(t);
    for (const bar of bars.children) {
      bar.setAttribute("data-cut", Number(bar.getAttribute("data-lo")) >= t ? "1" : "0");
    }
    line.setAttribute("x1", px);
    line.setAttribute("x2", px);
    line.setAttribute("y1", PAD.top - 4);
    line.setAttribute("y2", H - PAD.bottom);
    line.setAttribute("data-timeout-ms", t.toFixed(1));
    handle.setAttribute("x", px - 7);
    handle.setAttribute("y", PAD.top - 12);
    label.setAttribute("x", Math.min(px + 6, W - 120));
    label.setAttribute("y", PAD.top + 10);
    label.textContent = `timeout ${Math.round(t)} ms`;
    slider.value = String(Math.round(((x(t) - PAD.left) / span) * 1000));
    readout.setAttribute("data-cut-share", share.toFixed(4));
    readout.textContent = `Timeout ${t.toFixed(0)} ms: cuts ${(100 * share).toFixed(1)}% of the requests (${cut} of ${sorted.length} slower).`;
  }

  function set(ms) {
    model.set("timeout_ms", Math.round(ms * 10) / 10 || 0.1);
    model.save_changes();
    drawLine();
  }

  let dragging = false;
  const pointerMs = (event) => {
    const box = svg.getBoundingClientRect();
    return msAt(((event.clientX - box.left) / box.width) * W);
  };
  for (const target of [line, handle]) {
    target.addEventListener("pointerdown", (event) => {
      dragging = true;
      svg.setPointerCapture?.(event.pointerId);
      event.preventDefault();
    });
  }
  svg.addEventListener("pointermove", (event) => { if (dragging) set(pointerMs(event)); });
  svg.addEventListener("pointerup", (event) => {
    if (dragging) set(pointerMs(event));
    dragging = false;
  });
  svg.addEventListener("click", (event) => { if (!dragging) set(pointerMs(event)); });
  slider.addEventListener("input", () => set(msAt(PAD.left + (Number(slider.value) / 1000) * span)));

  const edges = () => model.get("edges") || [];
  const presenter = presenterControls(model, root, {
    step: (delta) => set(nextEdge(edges(), Number(model.get("timeout_ms")) || 0, delta)),
    first: () => set(edges()[0] || 0),
    last: () => set(edges()[edges().length - 1] || 0),
  });
  root.insertBefore(presenter.bar, svg);

  const redraw = () => { drawStatic(); drawLine(); };
  redraw();
  model.on("change:timeout_ms", drawLine);
  model.on("change:sorted_ms", redraw);
  return () => {
    presenter.dispose();
    model.off("change:timeout_ms", drawLine);
    model.off("change:sorted_ms", redraw);
  };
}

function renderBudget(model, root) {
  const controls = el("div", { class: "budget-controls" });
  const play = el("button", { class: "budget-play m14-control", title: "Play (Space)" }, "▶");
  const next = el(
    "button",
    { class: "budget-next m14-control", title: "Next hop (key →; ← goes back)" },
    "Next hop",
  );
  const slider = el("input", { type: "range", class: "budget-frame-slider", min: 0, step: 1 });
  const frameLabel = el("span", { class: "budget-frame-label" });
  const player = budgetFrames(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, player);
  controls.append(play, next, slider, frameLabel, presenter.bar);
  const rows = el("div", { class: "budget-rows" });
  root.append(controls, rows);
  const frames = () => player.count() - 1;
  const showFrame = player.controls({ play, slider }, { labels: ["▶", "⏸"] });

  function draw() {
    const frame = player.clamp(model.get("frame"));
    root.setAttribute("data-frame", frame);
    showFrame(frame);
    frameLabel.textContent = `${frame} of ${frames()} hops shown`;
    rows.replaceChildren();
    const runs = model.get("runs") || [];
    const biggest = Math.max(1, ...runs.flatMap((r) => r.hops.map((h) => h.budget_ms || 0)));
    for (const run of runs) {
      const row = el("div", { class: "budget-run", "data-status": run.status });
      const answer = run.error ? `${run.status || ""}` : `${run.status} ${run.body}`;
      row.append(el("div", { class: "budget-title" }, `${run.label}: ${answer}`));
      if (run.error) row.append(el("div", { class: "budget-error" }, run.error));
      const svg = el("svg:svg", { viewBox: `0 0 ${W} ${26 * Math.max(1, run.hops.length) + 6}`, width: W });
      run.hops.forEach((hop, i) => {
        const shown = i < frame;
        const g = el("svg:g", { class: "budget-hop", "data-hop": hop.name, "data-shown": shown ? 1 : 0 });
        const y = 4 + 26 * i;
        const scale = (ms) => ((ms || 0) / biggest) * (W - 370);
        g.append(el("svg:text", { x: 4, y: y + 15 }, hop.name));
        if (shown && hop.budget_ms === null) {
          g.append(el("svg:text", { x: 24, y: y + 14, class: "budget-text" },
            hop.outcome === "error" ? "error (above)" : "not reached"));
        } else if (shown) {
          const budget = hop.budget_ms || 0;
          const spent = Math.min(budget, hop.worked_ms || 0);
          g.append(el("svg:rect", { class: "budget-left", x: 24, y, width: scale(budget), height: 18 }));
          g.append(el("svg:rect", { class: "budget-spent", x: 24, y, width: scale(spent), height: 18 }));
          const passed = hop.forwarded_ms === null ? "" : `, sent ${hop.forwarded_ms}`;
          g.append(el("svg:text", { x: 30 + scale(budget), y: y + 14, class: "budget-text" },
            `had ${budget.toFixed(0)} ms, worked ${spent.toFixed(0)}${passed}: ${hop.outcome}`));
        }
        svg.append(g);
      });
      row.append(svg);
      rows.append(row);
    }
  }

  // "Next hop" after the last one starts again with no hop shown (the keys stop at the ends).
  next.addEventListener("click", () => {
    if (model.get("playing")) model.set("playing", false);
    player.set((player.clamp(model.get("frame")) + 1) % (frames() + 1));
  });
  const events = ["change:frame", "change:runs", "change:frames", "change:playing"];
  for (const name of events) model.on(name, draw);
  draw();
  return () => {
    presenter.dispose();
    for (const name of events) model.off(name, draw);
  };
}

export default {
  // Play's timer, one per model (the budget's; the histogram has nothing to play).
  initialize({ model }) {
    if (model.get("kind") === "budget") return budgetFrames(model).timer();
    return undefined;
  },
  render({ model, el: host }) {
    const root = el("div", { class: "timeout-widget", "data-kind": model.get("kind") });
    host.append(root);
    if (model.get("kind") === "budget") return renderBudget(model, root);
    return renderLatency(model, root);
  },
};
