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

function clampFrame(model, index) {
  const last = Math.max(0, frameCount(model) - 1);
  return Math.max(0, Math.min(last, Math.trunc(Number(index) || 0)));
}

function setFrame(model, index) {
  model.set("frame", clampFrame(model, index));
  model.save_changes();
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
  let timer = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const tick = () => {
    const next = model.get("frame") + 1;
    if (next >= frameCount(model)) {
      model.set("playing", false);
    } else {
      model.set("frame", next);
    }
    model.save_changes();
  };
  const sync = () => {
    if (model.get("playing") && timer === null) {
      timer = setInterval(tick, Math.max(30, model.get("interval_ms") || 150));
    } else if (!model.get("playing")) {
      stop();
    }
  };
  model.on("change:playing", sync);
  sync();
  return stop;
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
  const play = el("button", { class: "cascade-play", type: "button" });
  const prev = el("button", { class: "cascade-prev", type: "button", title: "previous 0.5 s" }, "◀");
  const next = el("button", { class: "cascade-next", type: "button", title: "next 0.5 s" }, "▶");
  const slider = el("input", { class: "cascade-frame-slider", type: "range", min: 0, step: 1 });
  const label = el("span", { class: "cascade-frame-label" });
  controls.append(play, prev, next, slider, label);

  const faults = el("div", { class: "cascade-faults" });
  const spike = el("button", { class: "cascade-fault-spike", type: "button" }, "Latency spike");
  const outage = el("button", { class: "cascade-fault-outage", type: "button" }, "Outage");
  const recovery = el("button", { class: "cascade-recovery", type: "button" }, "Recovery at t=30 s");
  const faultText = el("span", { class: "cascade-fault-text" });
  faults.append(spike, outage, recovery, faultText);

  const panelsBox = el("div", { class: "cascade-panels" });
  root.append(controls, faults, panelsBox);

  play.addEventListener("click", () => {
    const playing = !model.get("playing");
    if (playing && model.get("frame") >= frameCount(model) - 1) model.set("frame", 0);
    model.set("playing", playing);
    model.save_changes();
  });
  prev.addEventListener("click", () => setFrame(model, model.get("frame") - 1));
  next.addEventListener("click", () => setFrame(model, model.get("frame") + 1));
  slider.addEventListener("input", () => setFrame(model, slider.value));
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
    const index = clampFrame(model, model.get("frame"));
    const panels = model.get("panels") || [];
    built.forEach((parts, i) => drawPanel(parts, panels[i], index));
    slider.max = String(Math.max(0, count - 1));
    slider.value = String(index);
    slider.disabled = count === 0;
    label.textContent = count ? `frame ${index} of ${count - 1}` : "no frames";
    root.setAttribute("data-frame", String(index));
    root.setAttribute("data-fault", model.get("fault"));
    play.textContent = model.get("playing") ? "❚❚ Pause" : "▶ Play";
    prev.disabled = index <= 0;
    next.disabled = index >= count - 1;
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
    for (const [name, handler] of events) model.off(name, handler);
  };
}

export default { initialize, render };
