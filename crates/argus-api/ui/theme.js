// Applies the saved theme before the first paint (a module script would run too late and flash).
(function () {
  try {
    var t = localStorage.getItem("argus.theme");
    if (t === "dark" || t === "light") document.documentElement.dataset.theme = t;
  } catch (e) { /* storage disabled: follow the system theme */ }
})();
