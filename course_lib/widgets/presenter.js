// The course's presenter convention, shared by every widget (course_lib/widgets/presenter.py
// puts this file in front of the widget's own script). See presenter.css.
//
// presenterControls(model, root, actions) makes `root` (the widget's root element) adopt it:
//   * class `m14-widget`, `data-m14-theme` from the model's `theme` trait, `--m14-zoom`
//     from its `zoom` trait (both set in Python too);
//   * keyboard, once the widget has focus (click it, or Tab to it): → / ← one step forward
//     or back, Home / End the first / last step, Space or P play/pause, + / − zoom,
//     C the high-contrast presenter theme on and off. Keys it handles do not reach the
//     notebook or the slideshow (RISE), so → steps the widget instead of the slide;
//   * a small bar (returned) with A− / A+ (zoom) and ◐ (theme) buttons.
// `actions` = { step(delta), first(), last(), play() }; any of them may be missing.

const M14_ZOOM_MIN = 0.5;
const M14_ZOOM_MAX = 3;

function presenterControls(model, root, actions) {
  root.classList.add("m14-widget");
  root.setAttribute("tabindex", "0");
  // JupyterLab and lumino leave keys alone inside an element carrying this attribute.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const apply = () => {
    root.setAttribute("data-m14-theme", model.get("theme") || "default");
    root.style.setProperty("--m14-zoom", String(model.get("zoom") || 1));
  };
  const setZoom = (factor) => {
    const zoom = Math.max(M14_ZOOM_MIN, Math.min(M14_ZOOM_MAX, (model.get("zoom") || 1) * factor));
    model.set("zoom", Math.round(zoom * 100) / 100);
    model.save_changes();
  };
  const toggleTheme = () => {
    model.set("theme", model.get("theme") === "presenter" ? "default" : "presenter");
    model.save_changes();
  };
  const button = (label, title, onClick) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "m14-control";
    b.title = title;
    b.textContent = label;
    b.addEventListener("click", (event) => {
      event.stopPropagation();
      onClick();
    });
    return b;
  };
  const bar = document.createElement("span");
  bar.className = "m14-presenter-bar";
  const smaller = button("A−", "smaller (key −)", () => setZoom(1 / 1.25));
  smaller.classList.add("m14-zoom-out");
  const bigger = button("A+", "bigger (key +)", () => setZoom(1.25));
  bigger.classList.add("m14-zoom-in");
  const theme = button("◐", "high-contrast presenter theme (key C)", toggleTheme);
  theme.classList.add("m14-theme-toggle");
  bar.append(smaller, bigger, theme);

  const keys = {
    ArrowRight: () => actions.step && actions.step(1),
    ArrowLeft: () => actions.step && actions.step(-1),
    Home: () => actions.first && actions.first(),
    End: () => actions.last && actions.last(),
    " ": () => actions.play && actions.play(),
    p: () => actions.play && actions.play(),
    "+": () => setZoom(1.25),
    "=": () => setZoom(1.25),
    "-": () => setZoom(1 / 1.25),
    c: () => toggleTheme(),
  };
  const onKey = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target !== root && target.tagName === "INPUT" && target.type !== "range") return;
    const action = keys[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  };
  const focus = () => root.classList.add("m14-focused");
  const blur = () => root.classList.remove("m14-focused");
  const grab = (event) => {
    if (event.target.tagName !== "INPUT") root.focus({ preventScroll: true });
  };
  root.addEventListener("keydown", onKey);
  root.addEventListener("focusin", focus);
  root.addEventListener("focusout", blur);
  root.addEventListener("mousedown", grab);
  model.on("change:theme", apply);
  model.on("change:zoom", apply);
  apply();
  const dispose = () => {
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("focusin", focus);
    root.removeEventListener("focusout", blur);
    root.removeEventListener("mousedown", grab);
    model.off("change:theme", apply);
    model.off("change:zoom", apply);
  };
  return { bar, dispose };
}

// --- frames: the play / step / slider logic the frame-based widgets share -------------
//
// A widget whose model has a synced `frame` (0 .. count − 1), `playing` and, optionally,
// `interval_ms` makes one player per model and per view:
//
//   const player = m14Frames(model, frameCount, { intervalMs: 150, minMs: 30 });
//
// where `frameCount(model)` says how many frames there are. The player has
//   * clamp(i), set(i): a frame index clamped to the frames, and setting the synced frame;
//   * step(delta), first(), last(), play(): what presenterControls' keys call (a step
//     pauses Play first; Play from the last frame starts again at frame 0);
//   * timer(): Play's timer, one per model (call it in the module's `initialize`, return
//     what it returns): while `playing`, it advances `frame` every `interval_ms` and
//     stops at the last frame;
//   * controls({ play, prev, next, slider }, { labels, ends }): wires the widget's own
//     buttons and range input (any may be missing) and returns `update(index)`, to call
//     in the widget's draw: the slider's max and value, Play's label (`labels` =
//     [paused, playing]) and, with `ends`, ◀ / ▶ disabled at the first / last frame.

function m14Frames(model, frameCount, options = {}) {
  const intervalMs = options.intervalMs || 500;
  const minMs = options.minMs || 30;
  const count = () => frameCount(model);
  const clamp = (index) => {
    const last = Math.max(0, count() - 1);
    return Math.max(0, Math.min(last, Math.trunc(Number(index) || 0)));
  };
  const set = (index) => {
    model.set("frame", clamp(index));
    model.save_changes();
  };
  const step = (delta) => {
    if (model.get("playing")) model.set("playing", false);
    set(clamp(model.get("frame")) + delta);
  };
  const play = () => {
    const playing = !model.get("playing");
    if (playing && clamp(model.get("frame")) >= count() - 1) model.set("frame", 0);
    model.set("playing", playing);
    model.save_changes();
  };
  const timer = () => {
    let handle = null;
    const stop = () => {
      if (handle !== null) clearInterval(handle);
      handle = null;
    };
    const tick = () => {
      const next = model.get("frame") + 1;
      if (next >= count()) model.set("playing", false);
      else model.set("frame", next);
      model.save_changes();
    };
    const sync = () => {
      if (model.get("playing") && handle === null) {
        handle = setInterval(tick, Math.max(minMs, model.get("interval_ms") || intervalMs));
      } else if (!model.get("playing")) {
        stop();
      }
    };
    model.on("change:playing", sync);
    sync();
    return () => {
      model.off("change:playing", sync);
      stop();
    };
  };
  const controls = (parts, how = {}) => {
    const { play: playButton, prev, next, slider } = parts;
    const [paused, playing] = how.labels || ["▶ Play", "❚❚ Pause"];
    if (playButton) playButton.addEventListener("click", play);
    if (prev) prev.addEventListener("click", () => step(-1));
    if (next) next.addEventListener("click", () => step(1));
    if (slider) slider.addEventListener("input", () => set(slider.value));
    return (index) => {
      const total = count();
      if (slider) {
        slider.max = String(Math.max(0, total - 1));
        slider.value = String(index);
        slider.disabled = total === 0;
      }
      if (playButton) playButton.textContent = model.get("playing") ? playing : paused;
      if (how.ends) {
        if (prev) prev.disabled = index <= 0;
        if (next) next.disabled = index >= total - 1;
      }
    };
  };
  return {
    count,
    clamp,
    set,
    step,
    first: () => step(-count()),
    last: () => step(count()),
    play,
    timer,
    controls,
  };
}
