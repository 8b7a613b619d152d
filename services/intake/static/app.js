// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // The error summary takes focus so that screen readers announce it.
  var summary = $("#error-summary");
  if (summary) { summary.focus(); }

  // Agent details: shown only while "filing as an agent" is ticked.
  var asAgent = $("#f-as_agent");
  var agentFields = $("#agent-fields");
  if (asAgent && agentFields) {
    var syncAgent = function () {
      agentFields.hidden = !asAgent.checked;
      asAgent.setAttribute("aria-expanded", asAgent.checked ? "true" : "false");
    };
    asAgent.setAttribute("aria-controls", "agent-fields");
    asAgent.addEventListener("change", syncAgent);
    syncAgent();
  }

  // Fields that matter for some kinds only (data-kinds="correction addition").
  var kindInputs = $$("input[name=kind]");
  var byKind = $$("[data-kinds]");
  if (kindInputs.length && byKind.length) {
    var syncKind = function () {
      var chosen = (kindInputs.filter(function (i) { return i.checked; })[0] || {}).value || "";
      byKind.forEach(function (el) {
        // Keep a field with an error or content visible whatever the kind.
        var keep = el.querySelector(".err") || $$("textarea", el).some(function (t) { return t.value.trim() !== ""; });
        el.hidden = !keep && chosen !== "" && el.getAttribute("data-kinds").split(" ").indexOf(chosen) < 0;
      });
    };
    kindInputs.forEach(function (i) { i.addEventListener("change", syncKind); });
    syncKind();
  }

  // Files: say at once when one is too large or of the wrong type; the
  // server checks again (by content) whatever happens here.
  $$("input[type=file][data-max]").forEach(function (input) {
    input.addEventListener("change", function () {
      var f = input.files && input.files[0];
      var msg = $("#" + CSS.escape(input.id) + "-live");
      if (!f || !msg) { return; }
      var ok = /\.(pdf|jpe?g|png)$/i.test(f.name);
      if (f.size > Number(input.getAttribute("data-max"))) {
        msg.textContent = input.getAttribute("data-too-large");
      } else if (!ok) {
        msg.textContent = input.getAttribute("data-bad-type");
      } else {
        msg.textContent = "";
      }
    });
  });

  // One click sends once (the server is idempotent anyway).
  $$("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var b = $("button[type=submit]", form);
      if (b) { setTimeout(function () { b.disabled = true; b.setAttribute("aria-busy", "true"); }, 0); }
    });
  });

  // A request still being registered: look again by itself.
  var auto = $("[data-autoreload]");
  if (auto) {
    setTimeout(function () { window.location.reload(); }, Number(auto.getAttribute("data-autoreload")) || 3000);
  }
})();
