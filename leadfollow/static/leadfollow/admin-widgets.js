/* Progressive enhancement for leadfollow's admin inputs; without it each list still has one
   empty row, and saving gives another. No dependencies, nothing loaded from elsewhere. */
"use strict";
(function () {
  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button lf-add-row";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }
  function cloneEmpty(node) {
    var copy = node.cloneNode(true);
    copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    return copy;
  }
  function setUp() {
    document.querySelectorAll("[data-lf-hours]").forEach(function (editor) {
      if (editor.dataset.lfReady) { return; }
      editor.dataset.lfReady = "1";
      editor.querySelectorAll(".lf-hours-ranges").forEach(function (cell) {
        cell.appendChild(button("+", function () {
          var ranges = cell.querySelectorAll(".lf-range");
          var copy = cloneEmpty(ranges[ranges.length - 1]);
          cell.insertBefore(copy, this);
          copy.querySelector("input").focus();
        }));
      });
      var zoneInput = document.getElementById(editor.dataset.zoneInput);
      var zoneLabel = editor.querySelector("[data-lf-zone]");
      if (zoneInput && zoneLabel) {
        zoneInput.addEventListener("input", function () {
          zoneLabel.textContent = zoneInput.value.trim() || zoneLabel.dataset.siteZone;
        });
      }
    });
    document.querySelectorAll("[data-lf-keyvalue]").forEach(function (table) {
      if (table.dataset.lfReady) { return; }
      table.dataset.lfReady = "1";
      var body = table.querySelector("tbody");
      table.insertBefore(button("+ row", function () {
        var rows = body.querySelectorAll("tr");
        var copy = cloneEmpty(rows[rows.length - 1]);
        body.appendChild(copy);
        copy.querySelector("input").focus();
      }), table.querySelector(".help"));
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
