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
