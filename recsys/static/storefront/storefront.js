// Curio storefront demo: a plain-JavaScript frontend calling the public REST API (no build step).
// Routes (location.hash): #/home, #/category/<name>, #/item/<item_id>?rec=<recommendation_id>, #/cart.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("storefront-config").textContent);
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  const status = $("status");
  const shopperSelect = $("shopper");
  const limitInput = $("limit");
  const rawToggle = $("raw-toggle");
  const tastes = Object.fromEntries(config.shoppers.map((s) => [s.id, s.taste]));

  // ---- state kept in the browser --------------------------------------------------------------
  const store = {
    get(key, fallback) {
      try { return JSON.parse(localStorage.getItem("curio." + key)) ?? fallback; } catch (e) { return fallback; }
    },
    set(key, value) { localStorage.setItem("curio." + key, JSON.stringify(value)); },
  };
  let shopper = store.get("shopper", config.shoppers.length ? config.shoppers[0].id : newVisitorId());
  limitInput.value = store.get("limit", config.limit);
  rawToggle.checked = store.get("raw", false);

  function newVisitorId() {
    return config.userPrefix + "visitor-" + Math.random().toString(16).slice(2, 10);
  }
  function cart() { return store.get("cart:" + shopper, []); }
  function setCart(items) { store.set("cart:" + shopper, items); $("cart-count").textContent = items.length; }
  function limit() { return Math.max(1, Math.min(24, parseInt(limitInput.value, 10) || config.limit)); }

  // ---- the API, as any frontend would call it -------------------------------------------------
  // The token is public, so the shop's backend (here: this demo's Django) signs the shopper the page
  // speaks for; the API personalizes only for a signed shopper (docs/api.md, "Signed shoppers").
  const signatures = Object.fromEntries(config.shoppers.filter((s) => s.signature).map((s) => [s.id, s.signature]));
  async function signature(id) {
    if (!signatures[id]) {
      const response = await fetch(`${config.signatureUrl}?${new URLSearchParams({ user_id: id })}`);
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(`signing ${id}: ${response.status} ${data.detail || response.statusText}`);
      signatures[id] = data.signature;
    }
    return signatures[id];
  }
  async function api(method, path, body) {
    const response = await fetch(config.api + path, {
      method,
      headers: { Authorization: "Token " + config.token, "Content-Type": "application/json",
                 "Curio-Shopper-Signature": await signature(shopper) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = data.detail || (data.errors || []).map((e) => e.message).join("; ") || response.statusText;
      throw new Error(`${method} ${path}: ${response.status} ${detail}`);
    }
    return data;
  }
  const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));

  function sendEvent(item, type, rec) {
    const row = { user_id: shopper, item_id: item.item_id, type, timestamp: new Date().toISOString() };
    if (rec) row.recommendation_id = rec;
    return api("POST", "/events/", [row]);
  }
  function sendFeedback(item, rec) {
    const body = { item_id: item.item_id, type: "not_interested" };
    if (rec) body.recommendation_id = rec;
    return api("POST", `/users/${encodeURIComponent(shopper)}/feedback/`, body);
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  // ---- rendering ------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      // Styles through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      else if (key === "style") for (const [name, v] of Object.entries(value)) node.style.setProperty(name, v);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) node.append(child instanceof Node ? child : document.createTextNode(child));
    }
    return node;
  }
  const SOURCES = { pinned: "Pinned by a curator", boosted: "Boosted by a curator", popular: "Popular", model: "For you",
                    new: "New" };
  const itemLink = (item, rec) => `#/item/${encodeURIComponent(item.item_id)}${rec ? "?rec=" + rec : ""}`;
  const hue = (text) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);

  function card(item, rec, { actions = true, onChange } = {}) {
    const badges = (item.annotations || []).map((a) => el("span", { class: "badge badge-label" }, a.label));
    if (item.source) badges.push(el("span", { class: `badge badge-source source-${item.source}` }, SOURCES[item.source] || item.source));
    const reasons = (item.reasons || []).map((r) => el("li", { class: `reason reason-${r.type}` }, r.text));
    const node = el("li", { class: "card", "data-item-id": item.item_id },
      el("div", { class: "thumb", "aria-hidden": "true", style: { "--hue": hue(item.category || "") } },
        (item.category || "?").slice(0, 2)),
      el("h3", {}, el("a", { href: itemLink(item, rec) }, item.title)),
      el("p", { class: "meta" }, `${item.category || "Uncategorized"}${item.price ? " · $" + item.price : ""}`),
      badges.length ? el("p", { class: "badges" }, badges) : null,
      // A new arrival says why it is here at once (an exploration slot or a content neighbour), not behind "Why this?".
      item.source === "new" && item.reasons && item.reasons.length
        ? el("p", { class: "new-reason" }, item.reasons[item.reasons.length - 1].text) : null,
      reasons.length ? el("details", { class: "why" }, el("summary", {}, "Why this?"), el("ul", {}, reasons)) : null,
    );
    if (actions) {
      const act = async (label, fn, message) => {
        try {
          await fn();
          say(message);
          if (onChange) onChange(node);
        } catch (error) { say(error.message, true); }
      };
      node.append(el("div", { class: "actions" },
        el("button", { type: "button", onclick: () => act("cart", () => addToCart(item, rec), `Added ${item.title} to the cart.`) }, "Add to cart"),
        el("button", { type: "button", onclick: () => act("buy", () => sendEvent(item, "purchase", rec), `Bought ${item.title}. Lists learn from it on the next load.`) }, "Buy"),
        el("button", { type: "button", class: "quiet", "data-action": "not-interested", onclick: () => act("hide", async () => {
          await sendFeedback(item, rec);
          node.remove();
        }, `Hidden: Curio will not show ${item.title} to this shopper again.`) }, "Not interested"),
      ));
    }
    return node;
  }

  async function addToCart(item, rec) {
    await sendEvent(item, "add_to_cart", rec);
    const items = cart().filter((i) => i.item_id !== item.item_id);
    items.push({ item_id: item.item_id, title: item.title, category: item.category, price: item.price });
    setCart(items);
  }

  function listSection(title, answer, extraClass) {
    const origin = answer.model_version ? `model version ${answer.model_version}` : "popularity (no model for this list)";
    return el("section", { class: "list " + (extraClass || ""), "aria-label": title },
      el("h2", {}, title),
      el("p", { class: "list-meta" }, `${answer.items.length} items · from ${origin}`),
      el("ul", { class: "cards", "data-recommendation-id": answer.recommendation_id },
        answer.items.map((item) => card(item, answer.recommendation_id, { actions: !extraClass }))));
  }

  // Shows a curated list, and with the toggle on, the same request without merchandiser rules beside it.
  async function showList(container, title, path, params, method, body) {
    const load = (extra) => method === "POST"
      ? api("POST", path, { ...body, ...extra })
      : api("GET", `${path}?${q({ ...params, ...extra })}`);
    const curated = await load({});
    const wrap = el("div", { class: rawToggle.checked ? "compare" : "" }, listSection(title, curated));
    if (rawToggle.checked) {
      const raw = await load({ raw: true });
      const section = listSection("Algorithm only (before merchandiser rules)", raw, "raw");
      if (raw.raw !== true) {
        section.append(el("p", { class: "hint" }, "This server does not offer the raw list yet (raw=true was ignored)."));
      }
      wrap.append(section);
    }
    container.append(wrap);
    return curated;
  }

  // ---- pages ----------------------------------------------------------------------------------
  async function home(main) {
    const who = shopper.includes("visitor-") ? "a new visitor" : shopper;
    main.append(el("h1", { tabindex: "-1" }, `Picked for ${who}`));
    await showList(main, "Recommended for you", `/users/${encodeURIComponent(shopper)}/recommendations/`,
      { limit: limit(), placement: "home" });
    main.append(el("nav", { class: "chips", "aria-label": "Categories" },
      el("ul", {}, config.categories.map((c) => el("li", {}, el("a", { href: `#/category/${encodeURIComponent(c)}` }, c))))));
  }

  async function category(main, name) {
    name = name || config.categories[0] || "";
    const select = el("select", { id: "category", onchange: () => { location.hash = `#/category/${encodeURIComponent(select.value)}`; } },
      config.categories.map((c) => { const o = el("option", { value: c }, c); o.selected = c === name; return o; }));
    main.append(el("h1", { tabindex: "-1" }, name),
      el("div", { class: "field" }, el("label", { for: "category" }, "Category"), select));
    await showList(main, `${name} for you`, `/users/${encodeURIComponent(shopper)}/recommendations/`,
      { limit: limit(), placement: "category", category: name });
  }

  async function product(main, itemId, rec) {
    const item = await api("GET", `/items/${encodeURIComponent(itemId)}/`);
    sendEvent(item, "view", rec).catch((error) => say(error.message, true));
    const buy = el("button", { type: "button", onclick: async () => {
      try { await sendEvent(item, "purchase", rec); say(`Bought ${item.title}.`); } catch (e) { say(e.message, true); }
    } }, "Buy now");
    const add = el("button", { type: "button", onclick: async () => {
      try { await addToCart(item, rec); say(`Added ${item.title} to the cart.`); } catch (e) { say(e.message, true); }
    } }, "Add to cart");
    const attrs = Object.entries(item.attributes || {}).map(([k, v]) => el("li", {}, `${k}: ${v}`));
    main.append(el("article", { class: "product" },
      el("div", { class: "thumb big", "aria-hidden": "true", style: { "--hue": hue(item.category || "") } }, (item.category || "?").slice(0, 2)),
      el("div", {},
        el("h1", { tabindex: "-1" }, item.title),
        el("p", { class: "meta" }, `${item.category}${item.price ? " · $" + item.price : ""}`),
        attrs.length ? el("ul", { class: "attrs" }, attrs) : null,
        el("div", { class: "actions" }, add, buy))));
    await showList(main, "Goes well with", `/items/${encodeURIComponent(itemId)}/similar/`,
      { limit: limit(), placement: "product", user_id: shopper });
  }

  async function cartPage(main) {
    const items = cart();
    main.append(el("h1", { tabindex: "-1" }, "Your cart"));
    if (!items.length) {
      main.append(el("p", {}, "The cart is empty. Add items from any list."));
      return;
    }
    main.append(el("ul", { class: "cart" }, items.map((item) => el("li", {},
      el("a", { href: itemLink(item) }, item.title), ` · ${item.category} · $${item.price || "–"} `,
      el("button", { type: "button", class: "quiet", onclick: () => { setCart(cart().filter((i) => i.item_id !== item.item_id)); route(); } }, "Remove")))));
    main.append(el("button", { type: "button", onclick: async () => {
      try {
        await Promise.all(items.map((item) => sendEvent(item, "purchase")));
        setCart([]);
        say(`Bought ${items.length} items. Lists learn from them on the next load.`);
        route();
      } catch (e) { say(e.message, true); }
    } }, "Buy everything"));
    await showList(main, "Goes with your cart", "/recommendations/basket/", {}, "POST",
      { item_ids: items.map((i) => i.item_id), user_id: shopper, limit: limit(), placement: "cart" });
  }

  let routeSeq = 0;
  async function route() {
    const seq = ++routeSeq;  // a newer navigation wins; a stale one must not mark the view loaded
    const [path, query] = (location.hash.slice(1) || "/home").split("?");
    const [, page, arg] = path.split("/").map(decodeURIComponent);
    const rec = new URLSearchParams(query || "").get("rec");
    document.querySelectorAll("[data-nav]").forEach((a) => {
      if (a.dataset.nav === (page || "home")) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    const main = el("div", { class: "page" });
    view.replaceChildren(main);
    view.setAttribute("aria-busy", "true");
    try {
      if (page === "category") await category(main, arg);
      else if (page === "item" && arg) await product(main, arg, rec);
      else if (page === "cart") await cartPage(main);
      else await home(main);
    } catch (error) {
      say(error.message, true);
    } finally {
      if (seq === routeSeq) {
        view.setAttribute("aria-busy", "false");
        view.dataset.loaded = String(Date.now());
      }
    }
  }

  // ---- the shopper picker ---------------------------------------------------------------------
  function setShopper(id) {
    shopper = id;
    store.set("shopper", id);
    if ([...shopperSelect.options].some((o) => o.value === id)) shopperSelect.value = id;
    else if (id.includes("visitor-")) shopperSelect.value = "new";
    $("taste").textContent = tastes[id] ? `${id}: ${tastes[id]}` : id.includes("visitor-")
      ? `${id}: a new visitor without history (cold start: popular items)` : id;
    setCart(cart());
  }
  shopperSelect.addEventListener("change", () => {
    setShopper(shopperSelect.value === "new" ? newVisitorId() : shopperSelect.value);
    say(`Now shopping as ${shopper}.`);
    route();
  });
  $("shopper-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("shopper-id").value.trim();
    if (!id.startsWith(config.userPrefix)) { say(`Demo shopper ids start with ${config.userPrefix}`, true); return; }
    setShopper(id);
    route();
  });
  limitInput.addEventListener("change", () => { store.set("limit", limit()); route(); });
  rawToggle.addEventListener("change", () => { store.set("raw", rawToggle.checked); route(); });
  window.addEventListener("hashchange", () => { say(""); route().then(() => view.querySelector("h1")?.focus()); });

  setShopper(shopper);
  route();
})();
