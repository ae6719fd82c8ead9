// The breaker widget's view: draws frame `frame` of each panel's replayed run as SVG.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/breaker_widget.py); nothing is computed about the breakers here.
// Every render and every change redraws from the model, so a page reload or a second
// view of the same widget draws the frame the controls show. Play is a timer owned by
// the model (one per model, however many views), which sets the synced `frame` trait.
// `presenterControls` comes from presenter.js (the course's presenter convention), which
// course_lib/widgets/presenter.py puts in front of this file.

const SVG = "http://www.w3.org/2000/svg";
const COLORS = {
  closed: "#2ca02c",
  open: "#d62728",
  half_open: "#ff7f0e",
  idle: "#eeeeee",
  success: "#2ca02c",
  failure: "#d62728",
  rejected: "#8c8c8c",
  empty: "#e8e8e8",
  arrow: "#9a9a9a",
  taken: "#ff7f0e",
  rate: "#1f77b4",
};
// Where the three states sit in the diagram (viewBox 0 0 460 180).
const NODES = { closed: [70, 45], open: [390, 45], half_open: [230, 140] };
const RADIUS = 36;
// Each arrow's offset from the straight line between its nodes, to its left (the two
// arrows joining OPEN and HALF_OPEN go opposite ways, so they sit side by side), and
// where its label goes relative to the arrow's middle.
const ARROW_SHAPES = {
  "closed->open": { offset: 0, label: [0, -12] },
  "open->half_open": { offset: 12, label: [-58, -14] },
  "half_open->open": { offset: 12, label: [62, 16] },
  "half_open->closed": { offset: 0, label: [-58, 10] },
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
  let count = 0;
  for (const panel of model.get("panels") || []) {
    count = Math.max(count, (panel.frames || []).length);
  }
  return count;
}

// Play, steps and the slider: presenter.js's shared player (one per model and view).
function player(model) {
  return m14Frames(model, frameCount, { intervalMs: 500, minMs: 50 });
}

function pct(x) {
  return `${Math.round(x * 1000) / 10}%`;
}

function seconds(x) {
  return `${Math.round(x * 100) / 100}s`;
}

function stateColor(state) {
  return COLORS[state] || "#9467bd";
}

// --- Play: one timer per model -------------------------------------------------------

function initialize({ model }) {
  return player(model).timer();
}

// --- the drawing of one panel --------------------------------------------------------

function arrowGeometry(source, target, offset) {
  const [x1, y1] = NODES[source];
  const [x2, y2] = NODES[target];
  const dx = x2 - x1;
  const dy = y2 - y1;
  const length = Math.hypot(dx, dy);
  const ux = dx / length;
  const uy = dy / length;
  const nx = -uy * offset;
  const ny = ux * offset;
  return {
    x1: x1 + ux * RADIUS + nx,
    y1: y1 + uy * RADIUS + ny,
    x2: x2 - ux * (RADIUS + 4) + nx,
    y2: y2 - uy * (RADIUS + 4) + ny,
    mx: (x1 + x2) / 2 + nx,
    my: (y1 + y2) / 2 + ny,
  };
}

function buildPanel(panel, vocabulary, uid) {
  const root = el("div", { class: `breaker-panel breaker-panel-${panel.kind}` });
  const head = el("div", { class: "breaker-panel-head" });
  head.append(el("b", {}, panel.label));
  const stateLine = el("span", { class: "breaker-state-line" }, " state: ");
  const state = el("span", { class: "breaker-state" });
  stateLine.append(state);
  head.append(stateLine);
  root.append(head);
  const parts = { root, state };
  if (panel.error) {
    root.append(el("div", { class: "breaker-panel-error" }, panel.error));
    return parts;
  }

  // State diagram.
  const diagram = el("svg:svg", {
    class: "breaker-diagram",
    viewBox: "0 0 460 180",
    width: "100%",
    role: "img",
  });
  const defs = el("svg:defs");
  for (const [name, color] of [["idle", COLORS.arrow], ["taken", COLORS.taken]]) {
    const marker = el("svg:marker", {
      id: `${uid}-${name}`,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(el("svg:path", { d: "M 0 0 L 10 5 L 0 10 z", fill: color }));
    defs.append(marker);
  }
  diagram.append(defs);
  parts.arrows = {};
  for (const arrow of vocabulary.arrows) {
    const key = `${arrow.source}->${arrow.target}`;
    const shape = ARROW_SHAPES[key] || { offset: 0, label: [0, -10] };
    const g = arrowGeometry(arrow.source, arrow.target, shape.offset);
    const line = el("svg:line", {
      class: "breaker-arrow",
      "data-arrow": key,
      x1: g.x1,
      y1: g.y1,
      x2: g.x2,
      y2: g.y2,
    });
    const label = el(
      "svg:text",
      {
        class: "breaker-arrow-label",
        x: g.mx + shape.label[0],
        y: g.my + shape.label[1],
        "text-anchor": "middle",
      },
      arrow.label,
    );
    diagram.append(line, label);
    parts.arrows[key] = line;
  }
  parts.nodes = {};
  for (const [name, [x, y]] of Object.entries(NODES)) {
    const g = el("svg:g", { class: "breaker-node", "data-state": name });
    g.append(el("svg:circle", { cx: x, cy: y, r: RADIUS }));
    g.append(
      el("svg:text", { x, y: y + 4, "text-anchor": "middle" }, vocabulary.names[name] || name),
    );
    diagram.append(g);
    parts.nodes[name] = g;
  }
  root.append(diagram);

  // Failure rate, cooldown and rejections.
  const meters = el("svg:svg", { class: "breaker-meters", viewBox: "0 0 460 96", width: "100%" });
  const BAR_X = 150;
  const BAR_W = 290;
  const bar = (y, name) => {
    meters.append(el("svg:text", { x: 0, y: y + 12, class: "breaker-meter-label" }, name));
    meters.append(el("svg:rect", { x: BAR_X, y, width: BAR_W, height: 16, fill: COLORS.empty }));
    const fill = el("svg:rect", { x: BAR_X, y, width: 0, height: 16 });
    const text = el("svg:text", { x: BAR_X + 4, y: y + 12, class: "breaker-meter-text" });
    meters.append(fill, text);
    return { fill, text };
  };
  parts.rate = bar(4, "failure rate");
  parts.rate.fill.setAttribute("fill", COLORS.rate);
  parts.rate.fill.setAttribute("class", "breaker-rate-bar");
  const threshold = (panel.config.failure_rate_threshold || 0) * BAR_W + BAR_X;
  meters.append(
    el("svg:line", {
      class: "breaker-threshold",
      x1: threshold,
      x2: threshold,
      y1: 0,
      y2: 24,
    }),
  );
  parts.cooldown = bar(36, "cooldown left");
  parts.cooldown.fill.setAttribute("fill", COLORS.open);
  parts.cooldown.fill.setAttribute("class", "breaker-cooldown-bar");
  parts.rejected = el("svg:text", { x: 0, y: 86, class: "breaker-rejected" });
  meters.append(parts.rejected);
  root.append(meters);

  // The rolling window, oldest call on the left.
  const size = panel.config.window_size || 1;
  const cell = Math.max(6, Math.min(30, Math.floor(440 / size) - 2));
  const windowRow = el("div", { class: "breaker-window-line" });
  windowRow.append(el("span", { class: "breaker-meter-label" }, "rolling window (oldest first) "));
  const windowSvg = el("svg:svg", {
    class: "breaker-window",
    width: size * (cell + 2),
    height: cell + 2,
  });
  parts.cells = [];
  for (let i = 0; i < size; i += 1) {
    const rect = el("svg:rect", {
      class: "breaker-window-cell",
      x: i * (cell + 2) + 1,
      y: 1,
      width: cell,
      height: cell,
      rx: 2,
    });
    windowSvg.append(rect);
    parts.cells.push(rect);
  }
  windowRow.append(windowSvg);
  root.append(windowRow);

  parts.status = el("div", { class: "breaker-status" });
  root.append(parts.status);
  return parts;
}

function drawPanel(parts, panel, index, names) {
  parts.root.setAttribute("data-frame", String(index));
  if (panel.error) {
    parts.state.textContent = "—";
    parts.state.setAttribute("data-state", "");
    return;
  }
  const frame = panel.frames[index];
  if (!frame) return;
  const said = (s) => names[s] || String(s).toUpperCase();
  parts.state.textContent = said(frame.state);
  parts.state.setAttribute("data-state", frame.state);
  parts.state.style.color = stateColor(frame.state);

  for (const [name, node] of Object.entries(parts.nodes)) {
    const current = name === frame.state;
    node.classList.toggle("breaker-node-current", current);
    node.querySelector("circle").setAttribute("fill", current ? stateColor(name) : COLORS.idle);
  }
  const taken = frame.before !== frame.state ? `${frame.before}->${frame.state}` : "";
  for (const [key, line] of Object.entries(parts.arrows)) {
    const on = key === taken;
    line.classList.toggle("breaker-arrow-taken", on);
    line.setAttribute("marker-end", `url(#${parts.uid}-${on ? "taken" : "idle"})`);
  }

  const threshold = panel.config.failure_rate_threshold;
  const rate = frame.rate;
  parts.rate.fill.setAttribute("width", String(Math.max(0, Math.min(1, rate || 0)) * 290));
  parts.rate.text.textContent =
    rate === null ? "no verdict yet" : `${pct(rate)} (trips at ≥ ${pct(threshold)})`;
  const cooldown = panel.config.cooldown;
  const left = frame.cooldown_left;
  const share = left === null || !cooldown ? 0 : Math.max(0, Math.min(1, left / cooldown));
  parts.cooldown.fill.setAttribute("width", String(share * 290));
  parts.cooldown.text.textContent =
    left === null ? "— (only while OPEN)" : `${seconds(left)} of ${seconds(cooldown)}`;
  parts.rejected.textContent = `rejected (failed fast) so far: ${frame.rejected}`;
  parts.rejected.setAttribute("data-rejected", String(frame.rejected));

  const outcomes = frame.window.split("");
  parts.cells.forEach((rect, i) => {
    const outcome = outcomes[i] === "f" ? "failure" : outcomes[i] === "s" ? "success" : "empty";
    rect.setAttribute("fill", COLORS[outcome]);
    rect.setAttribute("data-outcome", outcome);
  });

  const did = {
    success: "succeeded",
    failure: "failed",
    rejected: "was rejected (failed fast, never sent)",
  }[frame.outcome];
  let text = `Call ${index + 1} at t=${seconds(frame.t)} (would ${frame.ok ? "succeed" : "fail"}) ${did}.`;
  if (frame.before !== frame.state) text += ` ${said(frame.before)} → ${said(frame.state)}`;
  if (frame.reason) text += `: ${frame.reason}`;
  parts.status.textContent = text;
}

// --- the whole widget ----------------------------------------------------------------

let views = 0;

function render({ model, el: host }) {
  views += 1;
  const uid = `breaker-${Date.now().toString(36)}-${views}`;
  const root = el("div", { class: "breaker-widget" });
  host.append(root);

  const controls = el("div", { class: "breaker-controls" });
  const play = el("button", { class: "breaker-play m14-control", type: "button" });
  const prev = el(
    "button",
    { class: "breaker-prev m14-control", type: "button", title: "previous call (key ←)" },
    "◀",
  );
  const next = el(
    "button",
    { class: "breaker-next m14-control", type: "button", title: "next call (key →)" },
    "▶",
  );
  const slider = el("input", { class: "breaker-frame-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "breaker-frame-label" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(play, prev, next, slider, label, presenter.bar);
  const scenario = el("div", { class: "breaker-scenario" });
  const steps = el("div", { class: "breaker-steps" });
  const divergence = el("div", { class: "breaker-divergence" });
  const knobs = el("div", { class: "breaker-knobs" });
  const error = el("div", { class: "breaker-error" });
  const panelsBox = el("div", { class: "breaker-panels" });
  root.append(controls, steps, scenario, divergence, panelsBox, knobs, error);

  const showFrame = frames.controls({ play, prev, next, slider }, { ends: true });

  let built = [];
  let chips = [];
  const build = () => {
    const vocabulary = model.get("vocabulary");
    const panels = model.get("panels") || [];
    panelsBox.replaceChildren();
    built = panels.map((panel) => {
      const parts = buildPanel(panel, vocabulary, uid);
      parts.uid = uid;
      panelsBox.append(parts.root);
      return parts;
    });
    // The step list: one chip per call, coloured by what the first drawable panel did.
    steps.replaceChildren();
    const shown = panels.find((p) => !p.error && p.frames.length) || { frames: [] };
    chips = shown.frames.map((frame, i) => {
      const chip = el(
        "span",
        {
          class: `breaker-step breaker-step-${frame.outcome}`,
          title: `call ${i + 1}: t=${seconds(frame.t)}, ${frame.outcome}`,
        },
        frame.ok ? "s" : "f",
      );
      chip.addEventListener("click", () => frames.set(i));
      steps.append(chip);
      return chip;
    });
    scenario.textContent = model.get("scenario_text");
    buildKnobs();
  };

  const buildKnobs = () => {
    knobs.replaceChildren();
    const config = model.get("settings") || {};
    for (const spec of model.get("knobs") || []) {
      const box = el("label", { class: `breaker-knob breaker-knob-${spec.name.replaceAll("_", "-")}` });
      box.append(document.createTextNode(`${spec.label} `));
      const input = el("input", {
        type: "number",
        min: spec.min,
        max: spec.max,
        step: spec.step,
        value: config[spec.name],
      });
      input.addEventListener("change", () => {
        const value = spec.integer ? parseInt(input.value, 10) : parseFloat(input.value);
        model.set("settings", { ...model.get("settings"), [spec.name]: value });
        model.save_changes();
      });
      box.append(input);
      knobs.append(box);
    }
  };

  const draw = () => {
    const count = frameCount(model);
    const index = frames.clamp(model.get("frame"));
    const panels = model.get("panels") || [];
    built.forEach((parts, i) => drawPanel(parts, panels[i], index, model.get("vocabulary").names));
    chips.forEach((chip, i) => chip.classList.toggle("breaker-step-current", i === index));
    showFrame(index);
    label.textContent = count ? `frame ${index} of ${count - 1}` : "no frames";
    root.setAttribute("data-frame", String(index));
    divergence.textContent = model.get("divergence_text");
    divergence.style.display = model.get("divergence_text") ? "" : "none";
    error.textContent = model.get("config_error");
    error.style.display = model.get("config_error") ? "" : "none";
  };

  const rebuild = () => {
    build();
    draw();
  };
  rebuild();
  model.on("change:panels", rebuild);
  model.on("change:settings", buildKnobs);
  model.on("change:frame", draw);
  model.on("change:playing", draw);
  model.on("change:divergence_text", draw);
  model.on("change:config_error", draw);
  return () => {
    presenter.dispose();
    model.off("change:panels", rebuild);
    model.off("change:settings", buildKnobs);
    model.off("change:frame", draw);
    model.off("change:playing", draw);
    model.off("change:divergence_text", draw);
    model.off("change:config_error", draw);
  };
}

export default { initialize, render };
