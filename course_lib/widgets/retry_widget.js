// The retry-storm widget's view: attempts per time step against the server's capacity.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/retry_widget.py); nothing is simulated here. Every render and every
// change redraws from the model, so a reload or a second view draws the frame the
// controls show. Play is a timer owned by the model, which sets the synced `frame` trait.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 220;
const PAD = { left: 40, right: 8, top: 10, bottom: 24 };

function el(tag, attrs = {}, text = null) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function frameCount(model) {
  let count = 0;
  for (const run of model.get("runs") || []) count = Math.max(count, (run.arrivals || []).length);
  return count;
}

// Play, steps and the slider: presenter.js's shared player (one per model and view).
function player(model) {
  return m14Frames(model, frameCount, { intervalMs: 40, minMs: 20 });
}

function selectedRun(model) {
  const runs = model.get("runs") || [];
  return runs.find((r) => r.name === model.get("selected")) || runs[0] || null;
}

function initialize({ model }) {
  return player(model).timer();
}

function render({ model, el: host }) {
  const root = el("div", { class: "breaker-widget retry-widget" });
  const controls = el("div", { class: "breaker-controls" });
  const play = el("button", { class: "breaker-play m14-control", type: "button" });
  const prev = el(
    "button",
    { class: "breaker-prev m14-control", type: "button", title: "previous step (key ←)" },
    "◀",
  );
  const next = el(
    "button",
    { class: "breaker-next m14-control", type: "button", title: "next step (key →)" },
    "▶",
  );
  const slider = el("input", { class: "breaker-frame-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "breaker-frame-label" });
  const choices = el("span", { class: "retry-schedules" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(play, prev, next, slider, label, choices, presenter.bar);
  const caption = el("div", { class: "retry-caption" });
  const body = el("div", { class: "retry-body" });
  const panel = el("div", { class: "breaker-panel retry-panel" });
  const head = el("div", { class: "breaker-panel-head" });
  const state = el("span", { class: "breaker-state" });
  head.append(el("b", {}, "Attempts per step: "), state);
  const chart = el("svg:svg", {
    class: "retry-chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
  });
  const status = el("div", { class: "retry-status" });
  const error = el("div", { class: "retry-error" });
  panel.append(head, chart, status, error);
  const table = el("table", { class: "retry-table" });
  body.append(panel, table);
  root.append(controls, caption, body);
  host.replaceChildren(root);

  const showFrame = frames.controls({ play, prev, next, slider }, { ends: true });

  let bars = [];
  let chartKey = "";
  let drawnKey = null;
  let drawnIndex = 0;
  let buttons = [];
  let rows = [];

  const buildControls = () => {
    const runs = model.get("runs") || [];
    buttons = runs.map((run) => {
      const b = el(
        "button",
        { class: "retry-schedule m14-control", type: "button", "data-schedule": run.name },
        run.label,
      );
      b.addEventListener("click", () => {
        model.set("selected", run.name);
        model.save_changes();
      });
      return b;
    });
    choices.replaceChildren(...buttons);
    const headRow = el("tr");
    for (const h of ["schedule", "calls", "retries", "completion", "peak / step", "gave up"]) headRow.append(el("th", {}, h));
    rows = runs.map((run) => {
      const tr = el("tr", { class: "retry-row", "data-schedule": run.name });
      tr.append(el("td", {}, run.label));
      if (run.error) {
        tr.append(el("td", { class: "retry-error", colspan: 5 }, run.error));
      } else {
        const done = run.completion === null || run.completion === undefined
          ? "not recovered"
          : `${run.completion.toFixed(2)} s`;
        tr.append(el("td", {}, String(run.calls)), el("td", {}, String(run.retries)), el("td", {}, done));
        tr.append(el("td", {}, String(run.peak)), el("td", {}, String(run.failed)));
      }
      tr.addEventListener("click", () => {
        model.set("selected", run.name);
        model.save_changes();
      });
      return tr;
    });
    table.replaceChildren(headRow, ...rows);
    caption.textContent = model.get("caption");
  };

  const buildChart = (run) => {
    chart.replaceChildren();
    bars = [];
    drawnKey = null; // new bars: colour them all on the next draw
    const arrivals = (run && run.arrivals) || [];
    const capacity = model.get("capacity");
    const top = Math.max(capacity * 1.2, ...arrivals, 1);
    const w = (WIDTH - PAD.left - PAD.right) / Math.max(1, arrivals.length);
    const y = (v) => PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - v / top);
    const step = model.get("step");
    const [h0, h1] = model.get("hang") || [0, 0];
    chart.append(
      el("svg:rect", {
        class: "retry-hang",
        x: PAD.left + (h0 / step) * w,
        y: PAD.top,
        width: ((h1 - h0) / step) * w,
        height: HEIGHT - PAD.top - PAD.bottom,
      }),
    );
    arrivals.forEach((v, i) => {
      const bar = el("svg:rect", {
        class: "retry-bar",
        x: PAD.left + i * w,
        y: y(v),
        width: Math.max(0.5, w - 0.3),
        height: Math.max(0, y(0) - y(v)),
        "data-over": v > capacity ? "true" : "false",
      });
      chart.append(bar);
      bars.push(bar);
    });
    chart.append(
      el("svg:line", {
        class: "retry-capacity",
        x1: PAD.left,
        x2: WIDTH - PAD.right,
        y1: y(capacity),
        y2: y(capacity),
      }),
      el("svg:text", { class: "retry-axis", x: WIDTH - PAD.right - 4, y: y(capacity) - 4, "text-anchor": "end" }, `capacity ${capacity}`),
      el("svg:text", { class: "retry-axis", x: PAD.left - 4, y: y(top) + 10, "text-anchor": "end" }, String(Math.round(top))),
      el("svg:text", { class: "retry-axis", x: PAD.left - 4, y: y(0), "text-anchor": "end" }, "0"),
    );
    for (let t = 0; t * step <= arrivals.length * step; t += Math.round(5 / step)) {
      chart.append(el("svg:text", { class: "retry-axis", x: PAD.left + t * w, y: HEIGHT - 8, "text-anchor": "middle" }, `${Math.round(t * step)} s`));
    }
    const now = el("svg:line", { class: "retry-now", y1: PAD.top, y2: HEIGHT - PAD.bottom });
    chart.append(now);
    bars.now = now;
    bars.w = w;
  };

  const draw = () => {
    const run = selectedRun(model);
    const key = run ? `${run.name}:${(run.arrivals || []).length}` : "";
    if (key !== chartKey) {
      buildChart(run);
      chartKey = key;
    }
    const count = frameCount(model);
    const index = frames.clamp(model.get("frame"));
    // Only the bars between the frame drawn before and this one change colour.
    const from = chartKey === drawnKey ? Math.min(drawnIndex, index) : 0;
    const to = chartKey === drawnKey ? Math.max(drawnIndex, index) : bars.length - 1;
    for (let i = from; i <= to && i < bars.length; i += 1) {
      bars[i].classList.toggle("retry-bar-future", i > index);
    }
    drawnIndex = index;
    drawnKey = chartKey;
    if (bars.now) {
      const x = PAD.left + (index + 1) * bars.w;
      bars.now.setAttribute("x1", x);
      bars.now.setAttribute("x2", x);
    }
    const step = model.get("step");
    const arrivals = (run && run.arrivals) || [];
    state.textContent = run ? run.label : "";
    state.setAttribute("data-state", run ? run.name : "");
    error.textContent = run && run.error ? `${run.label}: ${run.error}` : "";
    error.style.display = run && run.error ? "" : "none";
    status.textContent = arrivals.length
      ? `t = ${(index * step).toFixed(1)} s: ${arrivals[index]} attempts in this step (capacity ${model.get("capacity")})`
      : "";
    panel.setAttribute("data-frame", String(index));
    root.setAttribute("data-frame", String(index));
    showFrame(index);
    label.textContent = count ? `frame ${index} of ${count - 1}` : "no frames";
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(run !== null && b.dataset.schedule === run.name)));
    rows.forEach((r) => r.classList.toggle("retry-row-selected", run !== null && r.dataset.schedule === run.name));
  };

  const rebuild = () => {
    buildControls();
    chartKey = "";
    draw();
  };
  rebuild();
  model.on("change:runs", rebuild);
  model.on("change:selected", draw);
  model.on("change:frame", draw);
  model.on("change:playing", draw);
  return () => {
    presenter.dispose();
    model.off("change:runs", rebuild);
    model.off("change:selected", draw);
    model.off("change:frame", draw);
    model.off("change:playing", draw);
  };
}

export default { initialize, render };
