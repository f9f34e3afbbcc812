/* The merchandising board: drag a card onto a curated position (HTML5 drag and drop) or move it with the
   keyboard (Space picks up, arrows move, Enter pins, Escape cancels); either way the pin is posted as a
   draft through the board's form, so the server validates and records it like any rule. No dependencies. */
(function () {
  "use strict";

  function pinForm() { return document.getElementById("board-pin-form"); }

  function submitPin(itemId, position) {
    var form = pinForm();
    if (!form) { return; }
    form.elements.item_id.value = itemId;
    form.elements.position.value = String(position);
    form.submit();
  }

  function announce(text) {
    var live = document.getElementById("board-live");
    if (live) { live.textContent = text; }
  }

  function curatedCards() {
    return Array.prototype.slice.call(document.querySelectorAll("#curated-list > .card"));
  }

  // --- drag and drop ---------------------------------------------------------------------------------
  function setupDrag() {
    document.querySelectorAll(".cards .card").forEach(function (card) {
      card.addEventListener("dragstart", function (e) {
        e.dataTransfer.setData("text/plain", card.dataset.itemId);
        e.dataTransfer.effectAllowed = "move";
      });
    });
    curatedCards().forEach(function (target) {
      target.addEventListener("dragover", function (e) { e.preventDefault(); target.classList.add("drag-over"); });
      target.addEventListener("dragleave", function () { target.classList.remove("drag-over"); });
      target.addEventListener("drop", function (e) {
        e.preventDefault();
        target.classList.remove("drag-over");
        var itemId = e.dataTransfer.getData("text/plain");
        if (itemId) { submitPin(itemId, target.dataset.rank); }
      });
    });
  }

  // --- keyboard ---------------------------------------------------------------------------------------
  var moving = null;  // {card, list, start}

  function position(card) { return curatedCards().indexOf(card) + 1; }

  function setupKeyboard() {
    curatedCards().forEach(function (card) {
      card.addEventListener("keydown", function (e) {
        if (e.target !== card) { return; }  // keys inside the card's actions stay theirs
        if (!moving && (e.key === " " || e.key === "Enter")) {
          e.preventDefault();
          moving = {card: card, next: card.nextElementSibling};
          card.classList.add("moving");
          card.setAttribute("aria-grabbed", "true");
          announce("Picked up " + card.dataset.title + " at position " + position(card) +
                   ". Arrow keys move it, Enter pins it, Escape cancels.");
        } else if (moving && moving.card === card) {
          var list = card.parentNode;
          if (e.key === "ArrowUp" || e.key === "ArrowLeft") {
            e.preventDefault();
            var prev = card.previousElementSibling;
            if (prev) { list.insertBefore(card, prev); }
            card.focus();
            announce("Position " + position(card));
          } else if (e.key === "ArrowDown" || e.key === "ArrowRight") {
            e.preventDefault();
            var after = card.nextElementSibling;
            if (after && after.classList.contains("card")) { list.insertBefore(after, card); }
            card.focus();
            announce("Position " + position(card));
          } else if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            var pos = position(card);
            announce("Pinning " + card.dataset.title + " at position " + pos);
            moving = null;
            submitPin(card.dataset.itemId, pos);
          } else if (e.key === "Escape") {
            e.preventDefault();
            list.insertBefore(card, moving.next);
            card.classList.remove("moving");
            card.removeAttribute("aria-grabbed");
            moving = null;
            card.focus();
            announce("Move cancelled");
          }
        }
      });
    });
  }

  // --- small things -----------------------------------------------------------------------------------
  function setupDetails() {
    document.querySelectorAll(".strength-input").forEach(function (input) {
      var out = input.parentNode.parentNode.querySelector(".strength-out");
      function show() {
        var v = parseFloat(input.value);
        if (out) { out.textContent = (v > 0 ? "+" : "") + v.toFixed(1) + (v < 0 ? " (bury)" : ""); }
      }
      input.addEventListener("input", show);
      show();
    });
    // A slider or text box inside a draggable card would start a drag instead of moving its thumb.
    document.querySelectorAll(".card-actions").forEach(function (box) {
      var card = box.closest(".card");
      box.addEventListener("pointerdown", function () { card.draggable = false; });
      document.addEventListener("pointerup", function () { card.draggable = true; });
    });
    document.querySelectorAll(".card-img img").forEach(function (img) {
      function broken() { img.classList.add("broken"); }
      if (img.complete && img.naturalWidth === 0) { broken(); }
      img.addEventListener("error", broken);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupDrag();
    setupKeyboard();
    setupDetails();
  });
})();
