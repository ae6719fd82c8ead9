// The incident-timeline widget's view (notebook 06): one SVG chart drawn once per
// change of `incident`/`student`, and a cursor plus a readout moved to frame `frame`.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/runbook_widget.py); nothing about the incident is computed here.
// Play is a timer owned by the model (one per model, however many views), which sets
// the synced `frame` trait.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 900;
const LEFT = 150;
const RIGHT = 12;
// width of one character of a firing label, an upper estimate: 10px font, and 12px bold in
// the presenter theme (runbook_widget.css)
const LABEL_CHAR = { default: 6.2, presenter: 8.2 };
const LANES = [
  { id: "metrics", label: "metrics", height: 90 },
  { id: "rules", label: "reference rules", height: 54 },
  { id: "student", label: "your rules", height: 54 },
  { id: "breaker", label: "payment breaker", height: 22 },
  { id: "outbox", label: "outbox size", height: 60 },
];
const GAP = 8;
const TOP = 18;
const COLORS = {
  checkout_504_ratio: "#d62728",
  redis_cpu: "#9467bd",
  db_health_failed: "#8c564b",
  closed: "#2ca02c",
  open: "#d62728",
  half_open: "#ff7f0e",
  outbox: "#1f77b4",
  crash: "#000000",
  last_replicated: "#17becf",
  detected: "#ff7f0e",
  rerouted: "#2ca02c",
};
const METRIC_LABELS = {
  checkout_504_ratio: "504s on /checkout",
  redis_cpu: "Redis CPU",
  db_health_failed: "DB health check failed",
};

function el(tag, attrs = {}, text = null) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function frameCount(model) {
  return ((model.get("incident") || {}).t || []).length;
}

// Play, steps and the slider: presenter.js's shared player (one per model and view).
function player(model) {
  return m14Frames(model, frameCount, { intervalMs: 150, minMs: 30 });
}

function pct(x) {
  return `${Math.round(x * 1000) / 10}%`;
}

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return `${m}:${String(s).padStart(2, "0")}`;
}

// --- Play: one timer per model -------------------------------------------------------

function initialize({ model }) {
  return player(model).timer();
}

// --- the chart -----------------------------------------------------------------------

function laneTops() {
  const tops = {};
  let y = TOP;
  for (const lane of LANES) {
    tops[lane.id] = y;
    y += lane.height + GAP;
  }
  return { tops, height: y + 14 };
}

function firingSpans(events, end) {
  // fire/resolve events -> [{rule, start, stop, severity, action}], open spans end at `end`
  const open = {};
  const spans = [];
  for (const event of events || []) {
    if (event.kind === "fire" && !(event.rule in open)) {
      open[event.rule] = event;
    } else if (event.kind === "resolve" && event.rule in open) {
      const start = open[event.rule];
      spans.push({ ...start, start: start.t, stop: event.t });
      delete open[event.rule];
    }
  }
  for (const start of Object.values(open)) spans.push({ ...start, start: start.t, stop: end });
  return spans;
}

function drawChart(svg, data, student, labelChar) {
  svg.replaceChildren();
  const times = data.t || [];
  if (!times.length) return;
  const t0 = 0;
  const t1 = times[times.length - 1];
  const x = (t) => LEFT + ((t - t0) / (t1 - t0 || 1)) * (WIDTH - LEFT - RIGHT);
  const { tops, height } = laneTops();
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);

  for (const lane of LANES) {
    const g = el("svg:g", { class: "runbook-lane", "data-lane": lane.id });
    g.append(
      el("svg:rect", {
        x: LEFT,
        y: tops[lane.id],
        width: WIDTH - LEFT - RIGHT,
        height: lane.height,
        class: "runbook-lane-bg",
      }),
      el("svg:text", { x: LEFT - 8, y: tops[lane.id] + 14, class: "runbook-lane-label" }, lane.label),
    );
    svg.append(g);
  }
  const laneG = (id) => svg.querySelector(`.runbook-lane[data-lane="${id}"]`);

  // metrics: three lines on a 0..1 scale, with the firing levels dashed
  {
    const top = tops.metrics;
    const h = LANES[0].height;
    const y = (v) => top + h - Math.max(0, Math.min(1, v)) * h;
    const g = laneG("metrics");
    for (const level of [0.05, 0.9]) {
      g.append(
        el("svg:line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(level), y2: y(level), class: "runbook-level" }),
      );
    }
    let legendY = top + 30;
    for (const metric of ["checkout_504_ratio", "redis_cpu", "db_health_failed"]) {
      const values = data[metric] || [];
      const points = values.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      g.append(
        el("svg:polyline", {
          points,
          fill: "none",
          stroke: COLORS[metric],
          "stroke-width": 1.3,
          class: `runbook-metric runbook-metric-${metric}`,
        }),
      );
      g.append(
        el(
          "svg:text",
          { x: LEFT - 8, y: legendY, class: "runbook-legend", style: `fill: ${COLORS[metric]}` },
          METRIC_LABELS[metric],
        ),
      );
      legendY += 14;
    }
  }

  // rules: one row per rule name, a bar per firing span
  const ruleNames = (data.rules || []).map((r) => r.name);
  const drawRules = (laneId, events) => {
    const top = tops[laneId];
    const rowH = (LANES.find((l) => l.id === laneId).height - 6) / Math.max(1, ruleNames.length);
    const g = laneG(laneId);
    for (const span of firingSpans(events, t1)) {
      let row = ruleNames.indexOf(span.rule);
      if (row < 0) row = ruleNames.length - 1;
      const bar = el("svg:rect", {
        x: x(span.start),
        y: top + 3 + row * rowH,
        width: Math.max(2, x(span.stop) - x(span.start)),
        height: rowH - 2,
        class: `runbook-firing runbook-severity-${span.severity || "none"}`,
        "data-rule": span.rule,
      });
      bar.append(el("svg:title", {}, `${span.rule} (${span.severity}): ${span.action}`));
      g.append(bar);
      // a label that would run past the chart's right edge ends at the edge instead
      const text = `${span.severity} ${span.action}`;
      const fits = x(span.start) + 3 + text.length * labelChar <= WIDTH - RIGHT;
      g.append(
        el(
          "svg:text",
          {
            x: fits ? x(span.start) + 3 : WIDTH - RIGHT - 2,
            y: top + 3 + row * rowH + rowH - 5,
            "text-anchor": fits ? "start" : "end",
            class: "runbook-firing-label",
          },
          text,
        ),
      );
    }
  };
  drawRules("rules", data.events);
  if (student && !student.error && student.events) drawRules("student", student.events);

  // breaker: a strip coloured by state
  {
    const top = tops.breaker;
    const g = laneG("breaker");
    const states = data.breaker || [];
    let start = 0;
    for (let i = 1; i <= states.length; i += 1) {
      if (i === states.length || states[i] !== states[start]) {
        const left = x(start === 0 ? t0 : times[start - 1]);
        g.append(
          el("svg:rect", {
            x: left,
            y: top + 2,
            width: Math.max(1, x(times[i - 1]) - left),
            height: LANES[3].height - 4,
            fill: COLORS[states[start]] || "#999",
            class: "runbook-breaker-span",
            "data-state": states[start],
          }),
        );
        start = i;
      }
    }
  }

  // outbox: an area of its size
  {
    const top = tops.outbox;
    const h = LANES[4].height;
    const sizes = data.outbox || [];
    const peak = Math.max(1, ...sizes);
    const y = (v) => top + h - (v / peak) * (h - 4);
    const pts = sizes.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`);
    const g = laneG("outbox");
    g.append(
      el("svg:polygon", {
        points: [`${x(times[0])},${top + h}`, ...pts, `${x(t1)},${top + h}`].join(" "),
        fill: COLORS.outbox,
        opacity: 0.35,
        class: "runbook-outbox-area",
      }),
      el("svg:text", { x: LEFT + 4, y: top + 12, class: "runbook-legend" }, `peak ${peak}`),
    );
  }

  // RTO / RPO: the failover's moments as marks over every lane, and the two spans
  const tl = data.timeline || {};
  const bottom = height - 14;
  const marks = [
    ["last_replicated", tl.last_replicated_at, "last replicated write"],
    ["crash", tl.crash_at, "crash"],
    ["detected", tl.detected_at, "detected"],
    ["rerouted", tl.rerouted_at, "traffic back"],
  ];
  for (const [name, t, text] of marks) {
    if (typeof t !== "number") continue;
    const g = el("svg:g", { class: "runbook-mark", "data-mark": name });
    g.append(
      el("svg:line", { x1: x(t), x2: x(t), y1: TOP - 4, y2: bottom, stroke: COLORS[name], class: "runbook-mark-line" }),
    );
    g.append(el("svg:title", {}, `${text}: t=${clock(t)}`));
    svg.append(g);
  }
  const obj = data.objectives || {};
  const targets = data.targets || {};
  if (typeof tl.crash_at === "number") {
    const spans = [
      ["rto", tl.crash_at, tl.rerouted_at, `RTO ${Math.round(obj.rto)} s (target < ${targets.rto / 60} min)`],
      ["rpo", tl.last_replicated_at, tl.crash_at, `RPO ${Math.round(obj.rpo)} s (target < ${targets.rpo} s)`],
    ];
    spans.forEach(([name, a, b, text], i) => {
      const yy = TOP - 14 + i * 0;
      svg.append(
        el("svg:line", { x1: x(a), x2: x(b), y1: yy + 4, y2: yy + 4, class: `runbook-objective runbook-${name}` }),
        el(
          "svg:text",
          { x: name === "rto" ? x(b) + 4 : x(a) - 4, y: yy + 8, class: `runbook-objective-label runbook-${name}-label` },
          text,
        ),
      );
    });
  }
  // the cursor, moved on every frame
  svg.append(el("svg:line", { class: "runbook-cursor", x1: 0, x2: 0, y1: TOP - 4, y2: bottom }));
  svg.__x = x;
}

// --- the view ------------------------------------------------------------------------

function render({ model, el: host }) {
  const root = el("div", { class: "runbook-widget" });
  host.append(root);

  const controls = el("div", { class: "runbook-controls" });
  const play = el("button", { class: "runbook-play m14-control", type: "button" });
  const prev = el(
    "button",
    { class: "runbook-prev m14-control", type: "button", title: "previous sample (key ←)" },
    "◀",
  );
  const next = el(
    "button",
    { class: "runbook-next m14-control", type: "button", title: "next sample (key →)" },
    "▶",
  );
  const slider = el("input", { class: "runbook-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "runbook-frame-label" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(play, prev, next, slider, label, presenter.bar);

  const svg = el("svg:svg", { class: "runbook-chart", width: "100%", role: "img" });
  const legend = el("div", { class: "runbook-marks-legend" });
  for (const [name, text] of [
    ["last_replicated", "last replicated write"],
    ["crash", "primary crash"],
    ["detected", "detected"],
    ["rerouted", "traffic back (end of the RTO)"],
  ]) {
    const item = el("span", { class: "runbook-marks-legend-item" });
    item.append(el("span", { class: "runbook-swatch", style: `border-color: ${COLORS[name]}` }), text);
    legend.append(item);
  }
  const readout = el("div", { class: "runbook-readout" });
  const studentError = el("div", { class: "runbook-student-error" });
  const divergence = el("div", { class: "runbook-divergence" });
  root.append(controls, svg, legend, readout, studentError, divergence);

  const showFrame = frames.controls({ play, prev, next, slider });

  const drawStatic = () => {
    const student = model.get("student") || {};
    const labelChar = LABEL_CHAR[model.get("theme")] || LABEL_CHAR.default;
    drawChart(svg, model.get("incident") || {}, student, labelChar);
    studentError.textContent = student.error || "";
    studentError.hidden = !student.error;
    divergence.textContent = student.divergence || (student.events ? "" : "Pass run_rules=run_rules to show_incident to see your rules here.");
    drawFrame();
  };

  const drawFrame = () => {
    const data = model.get("incident") || {};
    const times = data.t || [];
    const i = frames.clamp(model.get("frame"));
    root.dataset.frame = String(i);
    showFrame(i);
    if (!times.length) {
      label.textContent = "no samples";
      return;
    }
    const t = times[i];
    label.textContent = `sample ${i + 1}/${times.length} · t = ${clock(t)}`;
    const cursor = svg.querySelector(".runbook-cursor");
    if (cursor && svg.__x) {
      const cx = svg.__x(t).toFixed(1);
      cursor.setAttribute("x1", cx);
      cursor.setAttribute("x2", cx);
    }
    const firing = [];
    const open = new Set();
    for (const event of data.events || []) {
      if (event.t > t) break;
      if (event.kind === "fire") open.add(event.rule);
      else open.delete(event.rule);
    }
    for (const rule of data.rules || []) if (open.has(rule.name)) firing.push(`${rule.severity} ${rule.name} → ${rule.action}`);
    const state = data.breaker[i];
    const size = data.outbox[i];
    readout.replaceChildren(
      el("span", {}, `504s ${pct(data.checkout_504_ratio[i])} · Redis CPU ${pct(data.redis_cpu[i])} · DB health ${data.db_health_failed[i] > 0.5 ? "FAILING" : "ok"} · breaker `),
      el("b", { class: "runbook-breaker-state", "data-state": state }, state),
      el("span", {}, " · outbox "),
      el("b", { class: "runbook-outbox-size", "data-size": size }, String(size)),
      el("span", {}, ` (${data.status[i]}) · firing: ${firing.length ? firing.join("; ") : "nothing"}`),
    );
  };


  model.on("change:incident", drawStatic);
  model.on("change:student", drawStatic);
  model.on("change:theme", drawStatic); // the firing labels' width depends on the theme
  model.on("change:frame", drawFrame);
  model.on("change:playing", drawFrame);
  drawStatic();
  return () => {
    presenter.dispose();
    model.off("change:incident", drawStatic);
    model.off("change:student", drawStatic);
    model.off("change:theme", drawStatic);
    model.off("change:frame", drawFrame);
    model.off("change:playing", drawFrame);
  };
}

export default { initialize, render };
