// The push console page: reads the console's JSON API and renders it, asks before every action.
//
// Every value from the server is put on the page as text (textContent, text nodes, attribute
// values set one by one); nothing from the server ever goes through innerHTML.

import { lineChart } from "./charts.js";

const BASE = new URL("../", import.meta.url); // the console's root, wherever the app is mounted
const CSRF_HEADER = "X-Bugzilla-Push-Console";
const REFRESH_MS = 30000;
const RESULTS = { 1: "OK", 2: "IGNORED", 3: "TRANSIENT", 4: "ERROR", 5: "UNKNOWN", 6: "BLOCKED" };

const state = {
  me: { user: "", can_act: false, can_read_payloads: false },
  connectors: [],
  backlogOf: null,
  dead: { offset: 0, limit: 50 },
  log: { filters: {}, pages: [], limit: 50 },
  audit: { offset: 0, limit: 50 },
  timer: null,
};

const $ = (selector) => document.querySelector(selector);

// -- building the page from data, as text ---------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("event handlers are added with addEventListener");
    if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function cell(...children) {
  return el("td", {}, ...children);
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted" }, emptyText)));
}

function messageLink(id) {
  return el("a", { href: `#message/${id}` }, String(id));
}

function utc(iso) {
  if (!iso) return "–";
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function age(iso, now) {
  return iso ? `${duration(new Date(now) - new Date(iso))} ago` : "–";
}

function time(iso, now) {
  return iso ? el("time", { datetime: iso, title: utc(iso) }, age(iso, now)) : "–";
}

function resultBadge(code, name) {
  return el("span", { class: `result result-${code}` }, name || RESULTS[code] || String(code));
}

function clip(text, length = 160) {
  if (!text) return "";
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

// -- talking to the server ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

async function api(path, params = {}) {
  const url = new URL(`api/${path}`, BASE);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return answer(await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

async function post(path, body = {}) {
  const response = await fetch(new URL(`api/${path}`, BASE), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", [CSRF_HEADER]: "1" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body && body.detail ? body.detail : response.statusText);
  return body;
}

function notify(text, kind = "info") {
  const notice = $("#notice");
  notice.className = `notice notice-${kind}`;
  notice.replaceChildren(text);
  notice.hidden = false;
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    const notice = $("#notice");
    notice.className = "notice notice-error";
    notice.replaceChildren(
      "Your Airflow session has ended. ",
      el("a", { href: new URL("../", BASE).href, target: "_top" }, "Log in again"),
      ", then come back here.",
    );
    notice.hidden = false;
    return;
  }
  const prefix = error instanceof ApiError && error.status === 403 ? "Not allowed: " : "";
  notify(`${prefix}${error.message}`, "error");
}

// -- asking before acting -------------------------------------------------------------------------

// A <dialog>, not window.confirm(): the Airflow UI shows this page in a sandboxed frame, where
// confirm() is not allowed and silently answers "no".
function confirmAction({ title, text, ok, askReason = false }) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = ok;
  $("#confirm-reason-label").hidden = !askReason;
  $("#confirm-problem").hidden = true;
  const reason = $("#confirm-reason");
  reason.value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      $("#confirm-ok").removeEventListener("click", accept);
      $("#confirm-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      dialog.close();
      resolve(value);
    };
    const accept = () => {
      if (askReason && !reason.value.trim()) {
        $("#confirm-problem").textContent = "Say why, so the others know.";
        $("#confirm-problem").hidden = false;
        reason.focus();
        return;
      }
      done({ reason: reason.value.trim() });
    };
    const cancel = (event) => {
      if (event) event.preventDefault();
      done(null);
    };
    $("#confirm-ok").addEventListener("click", accept);
    $("#confirm-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    (askReason ? reason : $("#confirm-cancel")).focus();
  });
}

async function act(question, path, makeBody = () => ({})) {
  const answered = await confirmAction(question);
  if (!answered) return false;
  try {
    const result = await post(path, makeBody(answered));
    notify(result.message, "ok");
    await route();
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

function actionButton(label, onClick, { danger = false, disabled = false, title = null } = {}) {
  const allowed = state.me.can_act;
  const button = el("button", {
    type: "button",
    class: danger ? "danger" : null,
    disabled: !allowed || disabled,
    title: allowed ? title : "Needs permission to edit the bugzilla_push DAG",
  }, label);
  button.addEventListener("click", onClick);
  return button;
}

// -- overview -------------------------------------------------------------------------------------

function stateCell(c, now) {
  if (c.state === "paused") {
    return cell(
      el("span", { class: "state state-paused" }, "paused"),
      el("div", { class: "muted" }, `by ${c.paused_by || "?"}, ${age(c.paused_ts, now)}`),
      el("div", { class: "reason" }, c.paused_reason || ""),
    );
  }
  if (c.state === "backing_off") {
    return cell(
      el("span", { class: "state state-backing_off" }, "backing off"),
      el("div", { class: "muted" }, `until ${utc(c.next_attempt_ts)} (in ${duration(new Date(c.next_attempt_ts) - new Date(now))})`),
    );
  }
  return cell(el("span", { class: "state state-active" }, "active"), c.enabled ? null : el("div", { class: "muted" }, "not enabled"));
}

function connectorRow(c, now) {
  const name = c.connector;
  const actions = [];
  if (c.state === "paused") {
    actions.push(actionButton("Resume", () => act(
      { title: `Resume ${name}?`, text: `${name} sends its backlog (${c.backlog}) on the next run. Its backoff is cleared.`, ok: "Resume" },
      `connectors/${encodeURIComponent(name)}/resume`,
    )));
  } else {
    actions.push(actionButton("Pause", () => act(
      { title: `Pause ${name}?`, text: `${name} stops receiving messages; they wait in its backlog, in order, until it is resumed.`, ok: "Pause", askReason: true },
      `connectors/${encodeURIComponent(name)}/pause`,
      (answered) => ({ reason: answered.reason }),
    )));
  }
  actions.push(actionButton("Reset backoff", () => act(
    { title: `Reset ${name}'s backoff?`, text: `${name} tries its backlog again on the next run instead of waiting.`, ok: "Reset backoff" },
    `connectors/${encodeURIComponent(name)}/reset-backoff`,
  ), { disabled: !c.attempts && c.state !== "backing_off" }));
  const show = el("button", { type: "button" }, "Backlog");
  show.addEventListener("click", () => showBacklog(name));
  actions.push(show);
  return el("tr", { dataset: { connector: name, state: c.state } },
    el("th", { scope: "row" }, name),
    stateCell(c, now),
    cell(el("span", { class: "number backlog-depth" }, c.backlog.toLocaleString("en"))),
    cell(time(c.backlog_oldest_ts, now)),
    cell(String(c.attempts)),
    cell(el("span", { class: "error-text", title: c.last_error || "" }, clip(c.last_error, 120))),
    cell(c.dead_letters ? el("a", { href: `#dead-letters/${encodeURIComponent(name)}` }, String(c.dead_letters)) : "0"),
    cell(time(c.last_success_ts, now)),
    cell(el("div", { class: "actions" }, actions)),
  );
}

async function showOverview() {
  const [overview, history, pending] = await Promise.all([
    api("overview"),
    api("history", { hours: 24, bucket_minutes: 10 }),
    api("pending", { limit: 20 }),
  ]);
  const now = overview.now;
  state.connectors = overview.connectors.map((c) => c.connector);
  fillConnectorChoices();
  $("#pending-count").textContent = overview.pending.toLocaleString("en");
  $("#pending-age").textContent = overview.pending ? `oldest pushed ${age(overview.pending_oldest_ts, now)}` : "nothing waiting";
  const run = overview.last_run;
  $("#last-run").textContent = run ? `#${run.id}: ${run.size.toLocaleString("en")} messages, ${age(run.finished_ts, now)}` : "none yet";
  const batch = overview.open_batch;
  $("#open-batch").textContent = batch ? `batch ${batch.id} open since ${utc(batch.created_ts)} (${batch.size} messages)` : "";
  $("#config-error").hidden = !overview.config_error;
  $("#config-error").textContent = overview.config_error || "";
  fill($("#connectors tbody"), overview.connectors.map((c) => connectorRow(c, now)), "No connectors are enabled or known yet.", 9);
  fill(
    $("#pending tbody"),
    pending.rows.map((m) => el("tr", {}, cell(messageLink(m.message_id)), cell(m.routing_key), cell(m.change_set), cell(time(m.push_ts, now)))),
    "The queue is empty.",
    4,
  );
  drawCharts(history);
  if (state.backlogOf) await showBacklog(state.backlogOf, false);
}

function drawCharts(history) {
  const times = history.buckets.map((b) => new Date(b));
  const names = Object.keys(history.connectors);
  lineChart($("#chart-sent"), {
    times,
    unit: "per minute",
    empty: "Nothing was delivered in the last 24 hours.",
    series: names.map((name) => ({ name, values: history.connectors[name].sent.map((n) => n / history.bucket_minutes) })),
  });
  lineChart($("#chart-backlog"), {
    times,
    unit: "messages",
    empty: "No backlog in the last 24 hours.",
    series: [
      ...names.map((name) => ({ name, values: history.connectors[name].backlog })),
      { name: "pending (push)", values: history.pending, dashed: true },
    ],
  });
}

async function showBacklog(name, scroll = true, after = null) {
  state.backlogOf = name;
  const page = await api(`connectors/${encodeURIComponent(name)}/backlog`, { limit: 20, after_id: after });
  const panel = $("#backlog-panel");
  panel.hidden = false;
  $("#backlog-title").textContent = `Backlog of ${name}`;
  const rows = page.rows.map((m) => el("tr", { dataset: { message: m.message_id } },
    cell(messageLink(m.message_id)),
    cell(m.routing_key),
    cell(utc(m.push_ts)),
    cell(String(m.attempts)),
    cell(el("span", { class: "error-text" }, clip(m.last_error, 120))),
    cell(actionButton("Drop", () => act(
      { title: `Drop message ${m.message_id}?`, text: `${name} will never receive message ${m.message_id}. It is logged as IGNORED, with your name.`, ok: "Drop message" },
      `connectors/${encodeURIComponent(name)}/backlog/${m.message_id}/drop`,
    ), { danger: true })),
  ));
  const tbody = $("#backlog tbody");
  if (after) tbody.append(...rows);
  else fill(tbody, rows, `${name}'s backlog is empty.`, 6);
  const more = $("#backlog-more");
  more.hidden = !page.next_after_id;
  more.onclick = () => showBacklog(name, false, page.next_after_id).catch(showError);
  if (scroll) panel.scrollIntoView({ block: "start" });
}

function fillConnectorChoices() {
  for (const select of [$("#dead-connector"), $("#log-filters select[name=connector]")]) {
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"), ...state.connectors.map((n) => el("option", { value: n }, n)));
    if (state.connectors.includes(chosen)) select.value = chosen;
  }
}

// -- dead letters ---------------------------------------------------------------------------------

async function showDeadLetters(connector) {
  if (connector !== undefined) {
    if (!state.connectors.length) {
      state.connectors = (await api("overview")).connectors.map((c) => c.connector);
      fillConnectorChoices();
    }
    $("#dead-connector").value = connector;
  }
  const page = await api("dead-letters", { connector: $("#dead-connector").value, limit: state.dead.limit, offset: state.dead.offset });
  fill(
    $("#dead-letters tbody"),
    page.rows.map((d) => el("tr", { dataset: { deadLetter: d.id, message: d.message_id } },
      cell(messageLink(d.message_id)),
      cell(d.connector),
      cell(d.routing_key),
      cell(utc(d.push_ts)),
      cell(utc(d.failed_ts)),
      cell(el("span", { class: "reason" }, d.reason)),
      cell(el("div", { class: "actions" },
        actionButton("Retry", () => act(
          { title: `Retry message ${d.message_id} for ${d.connector}?`, text: `It goes back into ${d.connector}'s backlog and is sent on the next run, in push-id order.`, ok: "Retry" },
          `dead-letters/${d.id}/retry`,
        )),
        actionButton("Drop", () => act(
          { title: `Drop the dead letter of message ${d.message_id}?`, text: `${d.connector} will never receive it. The audit trail keeps the reason.`, ok: "Drop" },
          `dead-letters/${d.id}/drop`,
        ), { danger: true }),
      )),
    )),
    "No dead letters.",
    7,
  );
  $("#dead-newer").disabled = state.dead.offset === 0;
  $("#dead-older").disabled = !page.has_more;
}

// -- log ------------------------------------------------------------------------------------------

function logFilters() {
  const form = new FormData($("#log-filters"));
  const filters = {};
  for (const [key, value] of form.entries()) {
    if (!value) continue;
    // datetime-local gives "2026-11-28T12:30" (or with seconds); the page works in UTC.
    filters[key] = key === "since" || key === "until" ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
  }
  return filters;
}

async function showLog() {
  const before = state.log.pages[state.log.pages.length - 1] || null;
  const page = await api("log", { ...state.log.filters, limit: state.log.limit, before_id: before });
  fill(
    $("#log tbody"),
    page.rows.map((r) => el("tr", { dataset: { log: r.id, message: r.message_id } },
      cell(String(r.id)),
      cell(utc(r.processed_ts)),
      cell(r.connector),
      cell(messageLink(r.message_id)),
      cell(r.routing_key),
      cell(resultBadge(r.result, r.result_name)),
      cell(el("span", { class: "detail" }, clip(r.data, 200))),
    )),
    "No log rows match.",
    7,
  );
  // Which filters the rows on show answer to (a filter applied while a page loads is not one yet).
  $("#log").dataset.filters = new URLSearchParams(state.log.filters).toString();
  $("#log-newest").disabled = !state.log.pages.length;
  const older = $("#log-older");
  older.disabled = !page.next_before_id;
  older.onclick = () => {
    state.log.pages.push(page.next_before_id);
    showLog().then(() => $("#log-title").scrollIntoView(), showError);
  };
}

// -- one message ----------------------------------------------------------------------------------

async function showMessage(id) {
  const m = await api(`messages/${encodeURIComponent(id)}`);
  $("#message-title").textContent = `Message ${m.message_id}`;
  const facts = [
    ["Routing key", m.routing_key],
    ["Change set", m.change_set],
    ["Pushed", utc(m.push_ts)],
    ["Payload", m.payload_is_json ? `${m.payload.length.toLocaleString("en")} bytes of JSON` : "not valid JSON: shown as stored"],
  ];
  $("#message-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  fill(
    $("#message-where tbody"),
    m.where.map((w) => {
      const actions = [];
      if (w.place === "dead letter") {
        actions.push(actionButton("Retry", () => act(
          { title: `Retry message ${m.message_id} for ${w.connector}?`, text: `It goes back into ${w.connector}'s backlog and is sent on the next run.`, ok: "Retry" },
          `dead-letters/${w.dead_letter_id}/retry`,
        )));
        actions.push(actionButton("Drop", () => act(
          { title: `Drop the dead letter of message ${m.message_id}?`, text: `${w.connector} will never receive it.`, ok: "Drop" },
          `dead-letters/${w.dead_letter_id}/drop`,
        ), { danger: true }));
      } else if (w.place === "backlog") {
        actions.push(actionButton("Drop", () => act(
          { title: `Drop message ${m.message_id} from ${w.connector}'s backlog?`, text: `${w.connector} will never receive it. It is logged as IGNORED, with your name.`, ok: "Drop message" },
          `connectors/${encodeURIComponent(w.connector)}/backlog/${m.message_id}/drop`,
        ), { danger: true }));
      }
      const detail = w.place === "dead letter" ? w.reason : w.place === "backlog" ? `${w.attempts} attempts${w.last_error ? `; ${w.last_error}` : ""}` : "";
      return el("tr", { dataset: { place: w.place } }, cell(w.place), cell(w.connector || "–"), cell(el("span", { class: "reason" }, detail || "")), cell(el("div", { class: "actions" }, actions)));
    }),
    "Not stored any more.",
    4,
  );
  $("#payload").textContent = m.payload_pretty;
  fill(
    $("#message-log tbody"),
    m.log.map((r) => el("tr", {}, cell(String(r.id)), cell(utc(r.processed_ts)), cell(r.connector), cell(resultBadge(r.result, r.result_name)), cell(el("span", { class: "detail" }, r.data || "")))),
    "No delivery attempts logged.",
    5,
  );
}

// -- activity -------------------------------------------------------------------------------------

async function showActivity() {
  const [audit, replays] = await Promise.all([
    api("audit", { limit: state.audit.limit, offset: state.audit.offset }),
    api("replays", { limit: 10 }),
  ]);
  fill(
    $("#audit tbody"),
    audit.rows.map((a) => el("tr", { dataset: { action: a.action } },
      cell(utc(a.action_ts)), cell(a.actor), cell(a.action.replaceAll("_", " ")), cell(a.connector || "–"),
      cell(a.message_id ? messageLink(a.message_id) : "–"), cell(el("span", { class: "reason" }, a.detail || "")),
    )),
    "No operator actions yet.",
    6,
  );
  $("#audit-newer").disabled = state.audit.offset === 0;
  $("#audit-older").disabled = !audit.has_more;
  fill(
    $("#replays tbody"),
    replays.rows.map((r) => el("tr", {},
      cell(String(r.id)), cell(utc(r.created_ts)), cell(r.requested_by), cell(r.selector), cell(r.state),
      cell(r.connectors.map((c) => `${c.connector}: ${c.state}, ${c.sent} sent${c.error ? ` (${c.error})` : ""}`).join("; ")),
    )),
    "No replays yet.",
    6,
  );
}

// -- navigation -----------------------------------------------------------------------------------

const VIEWS = ["overview", "dead-letters", "log", "message", "activity"];

async function route() {
  const [view, arg] = (location.hash.slice(1) || "overview").split("/");
  const current = VIEWS.includes(view) ? view : "overview";
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== current;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (current === "overview") await showOverview();
    else if (current === "dead-letters") await showDeadLetters(arg === undefined ? undefined : decodeURIComponent(arg));
    else if (current === "log") await showLog();
    else if (current === "message") await showMessage(arg);
    else await showActivity();
    $("#updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    document.body.dataset.loaded = current;
  } catch (error) {
    document.body.dataset.loaded = `${current}:error`;
    showError(error);
  }
}

function schedule() {
  clearInterval(state.timer);
  if ($("#auto-refresh").checked) {
    state.timer = setInterval(() => {
      if (!document.hidden && !$("#confirm").open && !$("#view-overview").hidden) route();
    }, REFRESH_MS);
  }
}

// Newer/older buttons of a list paged by offset: move the page, then show it again.
function offsetPager(page, show, newer, older) {
  $(newer).addEventListener("click", () => {
    page.offset = Math.max(0, page.offset - page.limit);
    show().catch(showError);
  });
  $(older).addEventListener("click", () => {
    page.offset += page.limit;
    show().catch(showError);
  });
}

async function start() {
  $("#refresh").addEventListener("click", () => route());
  $("#auto-refresh").addEventListener("change", schedule);
  $("#dead-connector").addEventListener("change", () => {
    state.dead.offset = 0;
    showDeadLetters().catch(showError);
  });
  offsetPager(state.dead, showDeadLetters, "#dead-newer", "#dead-older");
  offsetPager(state.audit, showActivity, "#audit-newer", "#audit-older");
  $("#log-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.log.filters = logFilters();
    state.log.pages = [];
    showLog().catch(showError);
  });
  $("#log-filters").addEventListener("reset", () => {
    state.log.filters = {};
    state.log.pages = [];
    setTimeout(() => showLog().catch(showError));
  });
  $("#log-newest").addEventListener("click", () => {
    state.log.pages = [];
    showLog().then(() => $("#log-title").scrollIntoView(), showError);
  });
  window.addEventListener("hashchange", () => {
    $("#notice").hidden = true;
    route();
  });
  try {
    state.me = await api("me");
    $("#who").textContent = `${state.me.user}${state.me.can_act ? "" : " (read only)"}`;
  } catch (error) {
    showError(error);
  }
  schedule();
  await route();
}

start();
