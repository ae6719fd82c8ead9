// The cascade widget's view: draws frame `frame` of each panel's recorded simulation.
//
// Everything shown comes from the model (traits set in Python by
// course_lib/widgets/cascade_widget.py); nothing about the services is computed here.
// Every render and every change redraws from the model, so a reload or a second view
// draws the frame the controls show. Play is a timer owned by the model (one per model,
// however many views), which sets the synced `frame` trait. The fault buttons set the
// synced `fault` / `recovery` traits; the kernel re-runs the simulations and sends new
// panels.

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
  return m14Frames(model, frameCount, { intervalMs: 150, minMs: 30 });
}

function pct(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

function ms(x) {
  if (x === null || x === undefined) return "–";
  return x >= 1000 ? `${Math.round(x / 10) / 100} s` : `${Math.round(x)} ms`;
}

// --- Play: one timer per model -------------------------------------------------------

function initialize({ model }) {
  return player(model).timer();
}

// --- one panel -----------------------------------------------------------------------

function buildPanel(panel) {
  const root = el("div", { class: "cascade-panel", "data-label": panel.label });
  root.append(el("div", { class: "cascade-panel-title" }, panel.label));
  const error = el("div", { class: "cascade-panel-error" }, panel.error || "");
  error.style.display = panel.error ? "" : "none";
  root.append(error);
  const clock = el("div", { class: "cascade-clock" });
  root.append(clock);
  const services = (panel.services || []).map((service) => {
    const box = el("div", { class: "cascade-service", "data-service": service.name });
    const head = el("div", { class: "cascade-service-head" });
    head.append(el("span", { class: "cascade-service-name" }, service.name));
    const busy = el("span", { class: "cascade-busy" });
    head.append(busy);
    box.append(head);
    const pool = el("div", { class: "cascade-pool" });
    const slots = [];
    for (let i = 0; i < service.workers; i += 1) {
      const slot = el("span", { class: "cascade-slot" });
      pool.append(slot);
      slots.push(slot);
    }
    box.append(pool);
    const stats = el("div", { class: "cascade-stats" });
    const queued = el("span", { class: "cascade-queued" });
    const lost = el("span", { class: "cascade-lost" });
    const latency = el("span", { class: "cascade-latency" });
    stats.append(queued, lost, latency);
    box.append(stats);
    root.append(box);
    return { box, busy, slots, queued, lost, latency, workers: service.workers };
  });
  const routesBox = el("div", { class: "cascade-routes" });
  const routes = ["/catalog", "/checkout"].map((route) => {
    const chip = el("span", { class: "cascade-route", "data-route": route });
    routesBox.append(chip);
    return { chip, route };
  });
  root.append(routesBox);
  return { root, clock, services, routes };
}

function drawPanel(parts, panel, index) {
  const frames = (panel && panel.frames) || [];
  const frame = frames[Math.min(index, frames.length - 1)];
  parts.root.setAttribute("data-frame", String(index));
  if (!frame) {
    parts.clock.textContent = "";
    return;
  }
  parts.clock.textContent = `t = ${frame.t.toFixed(1)} s${frame.fault ? "  ⚡ fault in payments" : ""}`;
  parts.clock.classList.toggle("cascade-clock-fault", Boolean(frame.fault));
  parts.services.forEach((service, k) => {
    const [busy, queued, lost, p50] = frame.s[k];
    service.box.setAttribute("data-busy", String(busy));
    service.box.classList.toggle("cascade-service-full", busy >= service.workers);
    service.busy.textContent = `${busy}/${service.workers} busy`;
    service.slots.forEach((slot, i) => slot.classList.toggle("cascade-slot-busy", i < busy));
    service.queued.textContent = `queued ${queued}`;
    service.queued.setAttribute("data-queued", String(queued));
    service.lost.textContent = `turned away ${lost}`;
    service.lost.setAttribute("data-lost", String(lost));
    service.latency.textContent = `p50 ${ms(p50)}`;
  });
  parts.routes.forEach(({ chip, route }, k) => {
    const ok = frame.r[k];
    chip.textContent = `${route} ok ${pct(ok)}`;
    chip.setAttribute("data-ok", ok === null ? "" : String(ok));
    chip.classList.toggle("cascade-route-bad", ok !== null && ok < 0.5);
  });
}

// --- the widget ----------------------------------------------------------------------

function render({ model, el: host }) {
  const root = el("div", { class: "cascade-widget", "data-course-widget": "cascade" });
  host.append(root);

  const controls = el("div", { class: "cascade-controls" });
  const play = el("button", { class: "cascade-play m14-control", type: "button" });
  const prev = el(
    "button",
    { class: "cascade-prev m14-control", type: "button", title: "previous 0.5 s (key ←)" },
    "◀",
  );
  const next = el(
    "button",
    { class: "cascade-next m14-control", type: "button", title: "next 0.5 s (key →)" },
    "▶",
  );
  const slider = el("input", { class: "cascade-frame-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "cascade-frame-label" });
  const frames = player(model);
  // The course's presenter convention (presenter.js): keys, zoom, the high-contrast theme.
  const presenter = presenterControls(model, root, frames);
  controls.append(play, prev, next, slider, label, presenter.bar);

  const faults = el("div", { class: "cascade-faults" });
  const spike = el(
    "button",
    { class: "cascade-fault-spike m14-control", type: "button" },
    "Latency spike",
  );
  const outage = el("button", { class: "cascade-fault-outage m14-control", type: "button" }, "Outage");
  const recovery = el(
    "button",
    { class: "cascade-recovery m14-control", type: "button" },
    "Recovery at t=30 s",
  );
  const faultText = el("span", { class: "cascade-fault-text" });
  faults.append(spike, outage, recovery, faultText);

  const panelsBox = el("div", { class: "cascade-panels" });
  root.append(controls, faults, panelsBox);

  const showFrame = frames.controls({ play, prev, next, slider }, { ends: true });
  const pick = (fault) => {
    model.set("fault", fault);
    model.save_changes();
  };
  spike.addEventListener("click", () => pick("spike"));
  outage.addEventListener("click", () => pick("outage"));
  recovery.addEventListener("click", () => {
    model.set("recovery", !model.get("recovery"));
    model.save_changes();
  });

  let built = [];
  const build = () => {
    panelsBox.replaceChildren();
    built = (model.get("panels") || []).map((panel) => {
      const parts = buildPanel(panel);
      panelsBox.append(parts.root);
      return parts;
    });
  };

  const draw = () => {
    const count = frameCount(model);
    const index = frames.clamp(model.get("frame"));
    const panels = model.get("panels") || [];
    built.forEach((parts, i) => drawPanel(parts, panels[i], index));
    showFrame(index);
    label.textContent = count ? `frame ${index} of ${count - 1}` : "no frames";
    root.setAttribute("data-frame", String(index));
    root.setAttribute("data-fault", model.get("fault"));
    spike.setAttribute("aria-pressed", String(model.get("fault") === "spike"));
    outage.setAttribute("aria-pressed", String(model.get("fault") === "outage"));
    recovery.setAttribute("aria-pressed", String(Boolean(model.get("recovery"))));
    faultText.textContent = model.get("fault_text");
  };

  const rebuild = () => {
    build();
    draw();
  };
  rebuild();
  const events = [
    ["change:panels", rebuild],
    ["change:frame", draw],
    ["change:playing", draw],
    ["change:fault", draw],
    ["change:recovery", draw],
    ["change:fault_text", draw],
  ];
  for (const [name, handler] of events) model.on(name, handler);
  return () => {
    presenter.dispose();
    for (const [name, handler] of events) model.off(name, handler);
  };
}

export default { initialize, render };
