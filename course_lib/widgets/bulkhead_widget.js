// The bulkhead widget's view: draws frame `frame` of each panel's simulated run.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/bulkhead_widget.py); nothing about the bulkheads is computed here.
// Each panel's pools are rows of slots: a call to A fills a slot blue, a call to B orange.
// A shared pool shows A's calls first, then B's. Play is a timer owned by the model (one
// per model, however many views), which sets the synced `frame` trait.

// A frame is [t, a_in_flight, b_in_flight, a_admitted, a_rejected, b_admitted, b_rejected].
const T = 0;
const A_IN = 1;
const B_IN = 2;
const A_OK = 3;
const A_REJ = 4;
const B_OK = 5;
const B_REJ = 6;

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function frameCount(model) {
  let count = 0;
  for (const panel of model.get("panels") || []) {
    count = Math.max(count, (panel.frames || []).length);
  }
  return count;
}

// Play, steps and the slider: presenter.js's shared player (one per model and view).
function player(model) {
  return m14Frames(model, frameCount, { intervalMs: 120, minMs: 30 });
}

// --- Play: one timer per model -------------------------------------------------------

function initialize({ model }) {
  return player(model).timer();
}

// --- one panel -----------------------------------------------------------------------

function buildPool(name, capacity) {
  const pool = el("div", { class: "bulkhead-pool", "data-name": name });
  pool.append(el("span", { class: "bulkhead-pool-name" }, name));
  const slots = el("span", { class: "bulkhead-slots" });
  const cells = [];
  for (let i = 0; i < capacity; i += 1) {
    const cell = el("span", { class: "bulkhead-slot", "data-holder": "" });
    slots.append(cell);
    cells.push(cell);
  }
  pool.append(slots);
  const count = el("span", { class: "bulkhead-pool-count" });
  pool.append(count);
  return { pool, cells, count };
}

function fill(pool, a, b) {
  pool.cells.forEach((cell, i) => {
    const holder = i < a ? "A" : i < a + b ? "B" : "";
    if (cell.getAttribute("data-holder") !== holder) cell.setAttribute("data-holder", holder);
  });
  pool.count.textContent = `${a + b}/${pool.cells.length}`;
}

function buildPanel(panel) {
  const root = el("div", { class: "bulkhead-panel", "data-layout": panel.layout });
  root.append(el("div", { class: "bulkhead-panel-head" }, panel.label));
  if (panel.error) {
    root.append(el("div", { class: "bulkhead-panel-error" }, panel.error));
    return { root, draw: () => {} };
  }
  const limits = panel.limits || { A: 10, B: 10 };
  const pools = [];
  if (panel.layout === "shared") {
    pools.push({ ...buildPool("A + B", limits.A + limits.B), shows: "both" });
  } else {
    pools.push({ ...buildPool("pool A", limits.A), shows: "A" });
    pools.push({ ...buildPool("pool B", limits.B), shows: "B" });
  }
  for (const p of pools) root.append(p.pool);
  const counters = el("div", { class: "bulkhead-counters" });
  const servedA = el("span", { class: "bulkhead-served-a" });
  const rejectedA = el("span", { class: "bulkhead-rejected-a" });
  const rejectedB = el("span", { class: "bulkhead-rejected-b" });
  counters.append(servedA, rejectedA, rejectedB);
  root.append(counters);
  const draw = (index) => {
    const frames = panel.frames;
    const f = frames[Math.min(index, frames.length - 1)];
    for (const p of pools) {
      if (p.shows === "both") fill(p, f[A_IN], f[B_IN]);
      else if (p.shows === "A") fill(p, f[A_IN], 0);
      else fill(p, 0, f[B_IN]);
    }
    servedA.textContent = `A served ${f[A_OK]}`;
    rejectedA.textContent = `A rejected ${f[A_REJ]}`;
    rejectedA.setAttribute("data-count", f[A_REJ]);
    rejectedA.classList.toggle("bulkhead-bad", f[A_REJ] > 0);
    rejectedB.textContent = `B rejected ${f[B_REJ]}`;
    rejectedB.setAttribute("data-count", f[B_REJ]);
    root.setAttribute("data-frame", index);
  };
  return { root, draw };
}

// --- the widget ------------------------------------------------------------------------

function render({ model, el: host }) {
  const root = el("div", { class: "bulkhead-widget" });
  host.append(root);
  const controls = el("div", { class: "bulkhead-controls" });
  const play = el("button", { class: "bulkhead-play m14-control", type: "button" });
  const prev = el(
    "button",
    { class: "bulkhead-prev m14-control", type: "button", title: "back 0.25 s (key ←)" },
    "◀",
  );
  const next = el(
    "button",
    { class: "bulkhead-next m14-control", type: "button", title: "on 0.25 s (key →)" },
    "▶",
  );
  const slider = el("input", { class: "bulkhead-slider", type: "range", min: 0, step: 1 });
  const time = el("span", { class: "bulkhead-time" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(play, prev, next, slider, time, presenter.bar);
  const legend = el("div", { class: "bulkhead-legend" });
  legend.append(
    el("span", { class: "bulkhead-slot", "data-holder": "A" }),
    el("span", {}, " a call to A (healthy)   "),
    el("span", { class: "bulkhead-slot", "data-holder": "B" }),
    el("span", {}, " a call to B (hangs)   "),
    el("span", { class: "bulkhead-slot", "data-holder": "" }),
    el("span", {}, " free"),
  );
  const grid = el("div", { class: "bulkhead-panels" });
  root.append(controls, legend, grid);

  let views = [];
  const build = () => {
    grid.replaceChildren();
    views = (model.get("panels") || []).map(buildPanel);
    for (const view of views) grid.append(view.root);
  };
  const draw = () => {
    const index = frames.clamp(model.get("frame"));
    root.setAttribute("data-frame", index);
    showFrame(index);
    for (const view of views) view.draw(index);
    const panel = (model.get("panels") || []).find((p) => (p.frames || []).length);
    if (panel) {
      const t = panel.frames[Math.min(index, panel.frames.length - 1)][T];
      const [start, end] = model.get("hang") || [0, 0];
      const hanging = t >= start && t < end;
      time.textContent = `t = ${t.toFixed(2)} s${hanging ? " · B hangs" : ""}`;
      time.classList.toggle("bulkhead-hanging", hanging);
    }
  };
  const showFrame = frames.controls({ play, prev, next, slider });
  const rebuild = () => {
    build();
    draw();
  };
  model.on("change:panels", rebuild);
  model.on("change:frame", draw);
  model.on("change:playing", draw);
  rebuild();
  return () => {
    presenter.dispose();
    model.off("change:panels", rebuild);
    model.off("change:frame", draw);
    model.off("change:playing", draw);
  };
}

export default { initialize, render };
