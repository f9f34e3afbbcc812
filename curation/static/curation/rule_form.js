/* Rule forms: search items with thumbnails for the item picker, add key/value rows, show the shopper-id list
   only for "Listed shoppers". Without this script every widget still posts plain, valid fields. */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function thumb(item) {
    var box = el("span", "card-img card-img-small");
    if (item.image_url) {
      var img = el("img");
      img.src = item.image_url;
      img.alt = "";
      img.addEventListener("error", function () { img.classList.add("broken"); });
      box.appendChild(img);
    }
    box.appendChild(el("span", "card-ph", (item.category || item.title || "?").charAt(0).toUpperCase()));
    return box;
  }

  function setupPicker(picker) {
    var input = picker.querySelector(".item-picker-input");
    var chosen = picker.querySelector(".item-picker-chosen");
    var search = picker.querySelector(".item-picker-search");
    var query = picker.querySelector(".item-picker-query");
    var results = picker.querySelector(".item-picker-results");
    var timer = null;
    search.hidden = false;

    function choose(item) {
      input.value = item.item_id;
      chosen.textContent = "";
      chosen.appendChild(thumb(item));
      var label = el("span");
      label.appendChild(el("strong", "", item.title));
      label.appendChild(document.createTextNode(" "));
      label.appendChild(el("small", "", [item.category, item.price].filter(Boolean).join(" · ")));
      chosen.appendChild(label);
      results.textContent = "";
      input.focus();
    }

    function show(items) {
      results.textContent = "";
      items.slice(0, 8).forEach(function (item) {
        var button = el("button", "item-option");
        button.type = "button";
        button.setAttribute("role", "listitem");
        button.dataset.itemId = item.item_id;
        button.appendChild(thumb(item));
        button.appendChild(el("span", "", item.title + " (" + item.item_id + ")" + (item.available ? "" : ", unavailable")));
        button.addEventListener("click", function () { choose(item); });
        results.appendChild(button);
      });
      if (!items.length) { results.appendChild(el("span", "quiet", "No matching item.")); }
    }

    query.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = query.value.trim();
        if (!q) { results.textContent = ""; return; }
        fetch(picker.dataset.searchUrl + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
          .then(function (r) { return r.json(); })
          .then(function (body) { show(body.results || []); });
      }, 200);
    });
    query.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
  }

  function setupKeyValue(box) {
    var add = box.querySelector(".kv-add");
    var rows = box.querySelector(".kv-rows");
    add.hidden = false;
    add.addEventListener("click", function () {
      var last = rows.lastElementChild;
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      rows.appendChild(copy);
      copy.querySelector("input").focus();
    });
  }

  function setupSegment() {
    var segment = document.getElementById("id_segment");
    var row = document.querySelector(".field-segment_user_ids");
    if (!segment || !row) { return; }
    function toggle() { row.hidden = segment.value !== "users"; }
    segment.addEventListener("change", toggle);
    toggle();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".item-picker").forEach(setupPicker);
    document.querySelectorAll(".key-value").forEach(setupKeyValue);
    setupSegment();
  });
})();
