// The service-mesh widget's view: one request's timeline (frame `frame`) and the
// amplification tree, drawn as SVG.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/mesh_widget.py); nothing about the policy is computed here. Every
// render and every change redraws from the model, so a reload or a second view draws the
// frame the controls show. Play is a timer owned by the model (one per model).

const SVG = "http://www.w3.org/2000/svg";
const COLORS = {
  ok: "#2ca02c",
  error: "#d62728",
  timeout: "#ff7f0e",
  running: "#9ecae1",
  backoff: "#bdbdbd",
  deadline: "#d62728",
  perTry: "#555555",
  node: "#1f77b4",
};
const WIDTH = 640;
const LEFT = 70;
const RIGHT = 20;
const ROW = 26;

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
  for (const panel of model.get("panels") || []) {
    count = Math.max(count, (panel.events || []).length);
  }
  return count;
}

// Play, steps and the slider: presenter.js's shared player (one per model and view).
function player(model) {
  return m14Frames(model, frameCount, { intervalMs: 700, minMs: 50 });
}

function outcomeColor(outcome) {
  if (outcome === "per-try-timeout" || outcome === "route-timeout") return COLORS.timeout;
  if (/^[23]\d\d$/.test(outcome)) return COLORS.ok;
  return COLORS.error;
}

// --- Play: one timer per model -------------------------------------------------------

function initialize({ model }) {
  return player(model).timer();
}

// --- one panel: the request's timeline -------------------------------------------------

function horizon(model) {
  const policy = model.get("policy") || {};
  let end = policy.timeout_ms || 0;
  for (const panel of model.get("panels") || []) {
    for (const [start, stop] of panel.tries || []) end = Math.max(end, start, stop || 0);
    if (panel.ended_at) end = Math.max(end, panel.ended_at);
  }
  return Math.max(end, 1) * 1.05;
}

// How many tries have started, and how many have ended, by event `frame`.
function progress(panel, frame) {
  let started = 0;
  let ended = 0;
  let finished = false;
  (panel.events || []).slice(0, frame + 1).forEach((event) => {
    if (/ starts at /.test(event.text)) started += 1;
    else if (/ ends at /.test(event.text)) ended += 1;
    else finished = true;
  });
  return { started, ended, finished };
}

function drawPanel(model, panel, frame, maxMs) {
  const box = el("div", { class: `mesh-panel mesh-panel-${panel.kind}`, "data-frame": frame });
  box.appendChild(el("div", { class: "mesh-panel-title" }, panel.label));
  if (panel.error) {
    box.appendChild(el("div", { class: "mesh-panel-error" }, panel.error));
    return box;
  }
  const policy = model.get("policy") || {};
  const tries = panel.tries || [];
  const height = 30 + ROW * Math.max(1, tries.length) + 24;
  const svg = el("svg:svg", {
    class: "mesh-timeline",
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": `${panel.label}: the request's tries over time`,
  });
  const x = (ms) => LEFT + ((WIDTH - LEFT - RIGHT) * ms) / maxMs;
  // time axis
  const axisY = height - 18;
  svg.appendChild(el("svg:line", { x1: x(0), y1: axisY, x2: x(maxMs), y2: axisY, class: "mesh-axis" }));
  const step = maxMs > 4000 ? 1000 : maxMs > 1500 ? 500 : 100;
  for (let t = 0; t <= maxMs; t += step) {
    svg.appendChild(el("svg:line", { x1: x(t), y1: axisY, x2: x(t), y2: axisY + 4, class: "mesh-axis" }));
    svg.appendChild(el("svg:text", { x: x(t), y: axisY + 14, class: "mesh-tick" }, `${t}`));
  }
  // the route deadline
  if (policy.timeout_ms) {
    svg.appendChild(
      el("svg:line", {
        class: "mesh-deadline",
        x1: x(policy.timeout_ms),
        y1: 6,
        x2: x(policy.timeout_ms),
        y2: axisY,
        stroke: COLORS.deadline,
      }),
    );
    svg.appendChild(
      el("svg:text", { x: x(policy.timeout_ms) - 4, y: 14, class: "mesh-deadline-label" },
        `route timeout ${policy.timeout_ms} ms`),
    );
  }
  const { started, ended, finished } = progress(panel, frame);
  tries.forEach(([start, stop, outcome], i) => {
    if (i >= started) return;
    const y = 24 + ROW * i;
    const done = i < ended;
    svg.appendChild(el("svg:text", { x: LEFT - 6, y: y + 13, class: "mesh-try-label" }, `try ${i + 1}`));
    if (i > 0) {
      const previousEnd = tries[i - 1][1];
      if (previousEnd !== null && start > previousEnd) {
        svg.appendChild(
          el("svg:rect", {
            class: "mesh-backoff",
            x: x(previousEnd),
            y: y + 6,
            width: Math.max(1, x(start) - x(previousEnd)),
            height: 6,
            fill: COLORS.backoff,
          }),
        );
      }
    }
    const stopAt = stop === null ? maxMs : stop;
    svg.appendChild(
      el("svg:rect", {
        class: "mesh-try",
        "data-outcome": done ? outcome : "running",
        "data-done": done ? "1" : "0",
        x: x(start),
        y,
        width: Math.max(2, x(done ? stopAt : start + (stopAt - start) / 2) - x(start)),
        height: 18,
        fill: done ? outcomeColor(outcome) : COLORS.running,
      }),
    );
    if (policy.per_try_timeout_ms) {
      const mark = start + policy.per_try_timeout_ms;
      if (mark <= maxMs) {
        svg.appendChild(
          el("svg:line", {
            class: "mesh-per-try",
            x1: x(mark),
            y1: y - 2,
            x2: x(mark),
            y2: y + 20,
            stroke: COLORS.perTry,
          }),
        );
      }
    }
    if (done) {
      svg.appendChild(el("svg:text", { x: x(stopAt) + 4, y: y + 13, class: "mesh-outcome" }, outcome));
    }
  });
  box.appendChild(svg);
  const event = (panel.events || [])[Math.min(frame, (panel.events || []).length - 1)];
  box.appendChild(el("div", { class: "mesh-event" }, event ? event.text : ""));
  box.appendChild(
    el(
      "div",
      { class: "mesh-status", "data-status": finished ? String(panel.status) : "" },
      finished
        ? `result: ${panel.status} after ${panel.ended_at} ms, ${tries.length} upstream requests`
        : "request under way",
    ),
  );
  return box;
}

// --- the amplification tree ------------------------------------------------------------

function drawTree(model) {
  const tree = model.get("tree") || {};
  const layers = tree.layers || [];
  const box = el("div", { class: "mesh-tree" });
  const budget = tree.budget_percent;
  box.appendChild(
    el(
      "div",
      { class: "mesh-tree-title" },
      budget === null || budget === undefined
        ? "When everything fails: requests per client request, layer by layer"
        : `When everything fails, with a ${budget}% retry budget at every layer`,
    ),
  );
  const height = 34 + 40 * (layers.length + 1);
  const svg = el("svg:svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: "100%", role: "img" });
  const rows = [{ name: "user", requests: 1, tries: 1 }, ...layers];
  rows.forEach((row, level) => {
    const y = 20 + 40 * level;
    const count = Math.round(row.requests * 1000) / 1000;
    const group = el("svg:g", { class: "mesh-tree-level", "data-requests": count });
    const dots = Math.min(81, Math.round(row.requests));
    const spacing = Math.min(14, (WIDTH - 220) / Math.max(1, dots));
    for (let i = 0; i < dots; i += 1) {
      group.appendChild(el("svg:circle", { cx: 150 + spacing * i, cy: y, r: Math.min(5, spacing / 2.2), fill: COLORS.node }));
    }
    group.appendChild(el("svg:text", { x: 6, y: y + 4, class: "mesh-tree-name" },
      level === 0 ? "one user request" : `${row.name} makes ${row.tries} tries`));
    group.appendChild(el("svg:text", { x: WIDTH - 6, y: y + 4, class: "mesh-tree-count" },
      level === 0 ? "1" : `x${row.tries} = ${count} requests`));
    svg.appendChild(group);
  });
  box.appendChild(svg);
  return box;
}

// --- the whole view --------------------------------------------------------------------

function render({ model, el: host }) {
  const root = el("div", { class: "mesh-widget" });
  const controls = el("div", { class: "mesh-controls" });
  const prev = el("button", { class: "mesh-prev m14-control", title: "previous step (key ←)" }, "◀");
  const play = el("button", { class: "mesh-play m14-control", title: "play / pause (Space)" }, "▶ Play");
  const next = el("button", { class: "mesh-next m14-control", title: "next step (key →)" }, "▶|");
  const slider = el("input", { class: "mesh-frame-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "mesh-frame-label" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(prev, play, next, slider, label, presenter.bar);
  const policyLine = el("div", { class: "mesh-policy" });
  const panels = el("div", { class: "mesh-panels" });
  const treeBox = el("div");
  root.append(controls, policyLine, panels, treeBox);
  host.appendChild(root);

  const showFrame = frames.controls({ play, prev, next, slider }, { labels: ["▶ Play", "Pause"] });

  const draw = () => {
    const frame = frames.clamp(model.get("frame"));
    const count = frameCount(model);
    showFrame(frame);
    label.textContent = `step ${frame + 1} / ${count}`;
    root.setAttribute("data-frame", String(frame));
    const p = model.get("policy") || {};
    const ms = (v) => (v === null || v === undefined ? "none" : `${v} ms`);
    policyLine.textContent =
      `timeout ${ms(p.timeout_ms)} · attempts ${p.attempts} · perTryTimeout ` +
      `${ms(p.per_try_timeout_ms)} · retryOn ${(p.retry_on || []).join(",") || "(nothing)"}`;
    const maxMs = horizon(model);
    panels.replaceChildren(...(model.get("panels") || []).map((panel) => drawPanel(model, panel, frame, maxMs)));
  };
  const drawTreeBox = () => treeBox.replaceChildren(drawTree(model));

  model.on("change:frame", draw);
  model.on("change:playing", draw);
  model.on("change:panels", draw);
  model.on("change:policy", draw);
  model.on("change:tree", drawTreeBox);
  draw();
  drawTreeBox();
  return () => {
    presenter.dispose();
    model.off("change:frame", draw);
    model.off("change:playing", draw);
    model.off("change:panels", draw);
    model.off("change:policy", draw);
    model.off("change:tree", drawTreeBox);
  };
}

export default { initialize, render };
