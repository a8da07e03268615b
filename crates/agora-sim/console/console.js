// The OEM console of agora-sim: reads an account's state from /_sim/state
// (polled with its ETag, so an unchanged state costs a 304) and acts as the
// OEM through the /_sim controls. Keys go in request headers only, and are
// kept in this tab's sessionStorage at most. Every rule is the simulator's:
// the page shows its error messages as they come.
"use strict";

const $ = (id) => document.getElementById(id);
const STORE = "agora-console";
const POLL_MS = 1000;

let creds = null; // { apiKey } or { admin }
let account = null; // the api_key of the account shown
let etag = null;
let state = null;
let timer = null;

// ----- talking to the simulator -----

function headers() {
  const h = { "Content-Type": "application/json" };
  if (creds.admin) h.Authorization = "Bearer " + creds.admin;
  if (account) h.api_key = account;
  return h;
}

// A control call; throws the simulator's own message on an error.
async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: headers(),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const said = data && (data.ResponseErrorMessage || data.ResponseMessage);
    throw new Error(said || `${res.status} ${res.statusText}`);
  }
  return data;
}

async function poll() {
  clearTimeout(timer);
  if (!account) return;
  try {
    const h = headers();
    if (etag) h["If-None-Match"] = etag;
    const res = await fetch("/_sim/state", { headers: h, cache: "no-store" });
    if (res.status === 200) {
      etag = res.headers.get("ETag");
      render(await res.json());
      $("sync").textContent = "Changed at " + new Date().toLocaleTimeString();
    } else if (res.status !== 304) {
      const data = await res.json().catch(() => null);
      throw new Error((data && data.ResponseErrorMessage) || `${res.status}`);
    }
  } catch (e) {
    $("sync").textContent = "Cannot read the state: " + e.message;
  }
  timer = setTimeout(poll, POLL_MS);
}

// ----- drawing -----

// An element with attributes and children (strings become text, never HTML).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("data-") || k === "type") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function fill(tableId, rows) {
  $(tableId).querySelector("tbody").replaceChildren(...rows);
}

const show = (v) => (v === null || v === undefined ? "" : v);

function render(s) {
  state = s;
  const focused = document.activeElement && document.activeElement.id;

  fill("mandates", s.Mandates.map((m) => {
    const c = m.Mandate.Consumer || {};
    const who = [c.FirstName, c.LastName].filter(Boolean).join(" ");
    return el("tr", { "data-id": m.Mandate.MandateId },
      el("td", {}, m.Mandate.MandateId), el("td", {}, m.Status),
      el("td", {}, show(m.Mandate.ManufacturerId)), el("td", {}, show(m.Mandate.InterventionTypeId)),
      el("td", {}, who), el("td", {}, show(m.InterventionId)), el("td", {}, m.Broken ? "yes" : ""));
  }));

  fill("repairs", s.Repairs.map((r) => el("tr", { "data-id": r.File.InterventionId },
    el("td", {}, r.File.InterventionId), el("td", {}, show(r.File.MandateId)),
    el("td", {}, r.Phase), el("td", {}, show(r.ClaimID)), el("td", {}, r.Invoiced ? "yes" : ""),
    el("td", {}, el("ol", {}, r.StatusHistory.map((h) => el("li", {},
      [h.Code, h.Description, h.Comment].filter(Boolean).join(" · "))))))));

  const logistic = [["208", "Ship"], ["202", "Mark unavailable"], ["207", "Cancel"]];
  fill("orders", s.Orders.map((o) => {
    const l = o.Line;
    const buttons = logistic.map(([code, label]) => el("button", {
      type: "button", id: `order-${l.OrderNumber}-${l.Reference}-${code}`,
      "data-order": l.OrderNumber, "data-ref": l.Reference, "data-code": code,
    }, label));
    return el("tr", { "data-order": l.OrderNumber },
      el("td", {}, l.OrderNumber), el("td", {}, l.Reference), el("td", {}, show(l.Quantity)),
      el("td", {}, o.InterventionId), el("td", {}, show(l.StatusCode)), el("td", {}, buttons));
  }));

  fill("claims", s.Claims.map((c) => el("tr", { "data-id": c.ClaimID },
    el("td", {}, c.ClaimID), el("td", {}, c.InterventionId), el("td", {}, show(c.LastStatus)),
    el("td", {}, el("ul", {}, (c.ValidationErrors || []).map((v) => el("li",
      { className: "message-" + String(v.MessageType || "").toLowerCase() },
      [v.MessageType, v.Field, v.ErrorMessage].filter(Boolean).join(": "))))),
    el("td", {}, show(c.Comment)), el("td", {}, show(c.DraftInvoiceNumber)))));

  const pick = $("decide-claim");
  const chosen = pick.value;
  pick.replaceChildren(...s.Claims.map((c) => el("option", { value: String(c.ClaimID) },
    `${c.ClaimID} (${show(c.LastStatus) || "no status"}, file ${c.InterventionId})`)));
  if (s.Claims.some((c) => String(c.ClaimID) === chosen)) pick.value = chosen;

  fill("drafts", s.DraftInvoices.map((d) => el("tr", { "data-id": d.DraftInvoiceNumber },
    el("td", {}, d.DraftInvoiceNumber), el("td", {}, d.ManufacturerId),
    el("td", {}, d.ClaimIDs.join(", ")), el("td", {}, show(d.InvoiceNumber)))));

  const f = s.Faults;
  const on = [["503", f.Status503Rate], ["500", f.Status500Rate], ["slow", f.SlowRate],
    ["drop after commit", f.DropAfterCommitRate]].filter(([, v]) => v > 0);
  $("faults-now").textContent = on.length || f.DelayMs
    ? "In force: " + on.map(([k, v]) => `${k} ${v}`).concat(f.DelayMs ? [`delay ${f.DelayMs} ms`] : [])
      .join(", ") + (f.Routes.length ? " on " + f.Routes.join(", ") : " on every route")
    : "No faults in force.";

  if (focused && $(focused)) $(focused).focus();
}

// ----- acting as the OEM -----

// Runs `act` on submit; its answer or the simulator's error under the form.
function onSubmit(formId, act) {
  const form = $(formId);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await report(form.querySelector(".result"), act);
  });
}

async function report(out, act) {
  out.className = "result";
  out.textContent = "Sending…";
  try {
    out.textContent = await act();
    out.classList.add("ok");
  } catch (err) {
    out.textContent = err.message;
    out.classList.add("error");
  }
  poll();
}

const num = (id) => Number($(id).value);

onSubmit("publish-form", async () => {
  const r = await call("POST", "/_sim/mandates", {
    Mandate: {
      ManufacturerId: num("wo-oem"), InterventionTypeId: num("wo-type"),
      Consumer: {
        Title: $("wo-title").value, LastName: $("wo-last").value,
        FirstName: $("wo-first").value, Address1: $("wo-address").value,
      },
    },
    Broken: $("wo-broken").checked,
  });
  return `Work order ${r.MandateId} published.`;
});

$("orders").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-code]");
  if (!b) return;
  report($("orders-result"), async () => {
    await call("POST", `/_sim/orders/${encodeURIComponent(b.dataset.order)}/logistic`,
      { StatusCode: b.dataset.code, Reference: b.dataset.ref });
    return `Order ${b.dataset.order}, part ${b.dataset.ref}: ${b.dataset.code} (${b.textContent.toLowerCase()}).`;
  });
});

onSubmit("decide-form", async () => {
  const id = $("decide-claim").value;
  if (!id) throw new Error("There is no claim to decide yet.");
  const comment = $("decide-comment").value.trim();
  const r = await call("POST", `/_sim/claims/${encodeURIComponent(id)}/decision`,
    { LastStatus: $("decide-status").value, Comment: comment || null });
  return `Claim ${r.ClaimID}: ${r.LastStatus}.`;
});

onSubmit("draft-form", async () => {
  const r = await call("POST", "/_sim/invoices/draft", { ManufacturerId: num("draft-oem") });
  return `Draft ${r.DraftInvoiceNumber} issued for claims ${r.ClaimIDs.join(", ") || "(none)"}.`;
});

onSubmit("catalog-form", async () => {
  const kind = $("cat-kind").value;
  const records = $("cat-records").value.split("\n").map((l) => l.trim()).filter(Boolean)
    .map((line) => {
      const f = line.split(";").map((x) => x.trim());
      return kind === "spareparts"
        ? { Reference: f[0], Label: f[1] }
        : { CommercialRef: f[0], TechnicalRef: f[1], Label: f[2] };
    });
  const r = await call("POST", `/_sim/catalog/${encodeURIComponent($("cat-oem").value)}/${kind}`, records);
  return `${r.Published} record(s) published.`;
});

onSubmit("faults-form", async () => {
  const routes = $("f-routes").value.split(",").map((x) => x.trim()).filter(Boolean);
  await call("POST", "/_sim/faults", {
    Status503Rate: num("f-503"), Status500Rate: num("f-500"), DelayMs: num("f-delay"),
    SlowRate: num("f-slow"), SlowMs: num("f-slow-ms"), DropAfterCommitRate: num("f-drop"),
    Routes: routes,
  });
  return "Faults set.";
});

// ----- signing in -----

async function open(saved) {
  creds = saved.admin ? { admin: saved.admin } : { apiKey: saved.apiKey };
  account = saved.admin ? null : saved.apiKey;
  const r = await call("GET", "/_sim/accounts");
  const picker = $("account");
  picker.replaceChildren(...r.Accounts.map((a) => el("option", { value: a.ApiKey },
    a.ApiKey + (a.Locked ? " (locked)" : ""))));
  if (saved.admin) {
    const keys = r.Accounts.map((a) => a.ApiKey);
    account = keys.includes(saved.account) ? saved.account : keys[0] || null;
    picker.value = account;
  }
  $("account-picker").hidden = !saved.admin;
  $("who").textContent = saved.admin ? "Admin: every account" : "One account";
  sessionStorage.setItem(STORE, JSON.stringify({ ...saved, account }));
  $("sign-in").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  etag = null;
  poll();
}

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("sign-in-result");
  const admin = $("admin-token").value.trim();
  const apiKey = $("api-key").value.trim();
  out.className = "result";
  if (!admin && !apiKey) {
    out.textContent = "Give an account's api_key or the admin token.";
    out.classList.add("error");
    return;
  }
  try {
    await open(admin ? { admin } : { apiKey });
    $("api-key").value = "";
    $("admin-token").value = "";
    out.textContent = "";
  } catch (err) {
    creds = null;
    account = null;
    out.textContent = err.message;
    out.classList.add("error");
  }
});

$("account").addEventListener("change", () => {
  account = $("account").value;
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "{}");
  sessionStorage.setItem(STORE, JSON.stringify({ ...saved, account }));
  etag = null;
  poll();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(STORE);
  clearTimeout(timer);
  creds = account = etag = state = null;
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
  $("api-key").focus();
});

const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
if (saved) open(saved).catch(() => sessionStorage.removeItem(STORE));
