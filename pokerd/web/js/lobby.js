// The lobby: every table's line, followed live by long poll (GET /lobby sends
// only what changed), filters, and the form that creates a table.

import { call, saveCreator } from "./api.js";

const WAIT_S = 25; // a long poll's wait; the server answers sooner on a change
const PAUSE_MS = 1000; // between answers: a busy server costs a lobby one a second
const RETRY_MS = [1000, 2000, 5000, 10000];
const $ = (selector) => document.querySelector(selector);

const lobby = { board: null, version: 0, lines: new Map(), rows: new Map(), mode: "" };
window.pokerdLobby = lobby; // for tests and the curious

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nameOf = (line) => line.config.name || `Table ${line.table}`;
// Chips as a lobby shows them: 5, 1,500, 50K, 1.2M (a row stays narrow).
const COMPACT = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const GROUPED = new Intl.NumberFormat("en");
const chips = (amount) => (amount >= 10000 ? COMPACT.format(amount) : GROUPED.format(amount));
const blindsOf = (line) => `${chips(line.config.small_blind)}/${chips(line.config.big_blind)}`;
const isOpen = (line) => line.status === "open" && line.seats_taken < line.config.max_seats;
const byName = (a, b) =>
  nameOf(a).localeCompare(nameOf(b), undefined, { numeric: true }) ||
  a.table.localeCompare(b.table);

function setMode(mode) {
  if (lobby.mode === mode) return;
  lobby.mode = mode;
  const badge = $("#conn");
  badge.dataset.mode = mode;
  badge.textContent = mode;
}

// Following the board

async function follow() {
  let failures = 0;
  for (;;) {
    const query = lobby.board
      ? `?lobby=${encodeURIComponent(lobby.board)}&after=${lobby.version}&wait=${WAIT_S}`
      : "";
    let answer = null;
    try {
      answer = await call("GET", `/lobby${query}`);
    } catch (failure) {
      answer = null; // the server is unreachable (or restarting)
    }
    if (answer && answer.ok) {
      failures = 0;
      setMode("live");
      apply(answer.data);
      await sleep(PAUSE_MS);
    } else {
      setMode("reconnecting");
      await sleep(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
      failures += 1;
    }
  }
}

function apply(answer) {
  if (answer.whole) lobby.lines.clear();
  for (const line of answer.tables) lobby.lines.set(line.table, line);
  for (const table of answer.removed) lobby.lines.delete(table);
  lobby.board = answer.lobby;
  lobby.version = answer.version;
  draw();
}

// Drawing

const COLUMNS = [
  ["name", "Table"],
  ["blinds", "Blinds"],
  ["seats", "Seats"],
  ["watching", "Watching"],
  ["hands", "Hands"],
  ["avg-pot", "Avg pot"],
  ["pace", "Hands/h"],
  ["go", ""],
];

function newRow(table) {
  const row = document.createElement("tr");
  row.dataset.table = table;
  for (const [name, label] of COLUMNS) {
    const cell = document.createElement(name === "name" ? "th" : "td");
    if (name === "name") cell.scope = "row";
    cell.className = name;
    if (label) cell.dataset.label = label; // the phone layout's caption
    row.append(cell);
  }
  const title = document.createElement("span");
  title.className = "title";
  const badge = document.createElement("span");
  badge.className = "badge";
  row.querySelector(".name").append(title, badge);
  const link = document.createElement("a");
  link.href = `/tables/${encodeURIComponent(table)}`;
  link.className = "button";
  row.querySelector(".go").append(link);
  return row;
}

function fillRow(row, line) {
  const set = (name, text) => {
    const cell = row.querySelector(`.${name}`);
    if (cell.textContent !== text) cell.textContent = text;
  };
  const stopped = line.status === "stopped";
  const full = line.seats_taken >= line.config.max_seats;
  row.classList.toggle("stopped", stopped);
  row.classList.toggle("full", full);
  row.querySelector(".title").textContent = nameOf(line);
  const badge = row.querySelector(".badge");
  badge.textContent = stopped ? "stopped" : full ? "full" : "";
  badge.hidden = badge.textContent === "";
  badge.title = stopped ? "The server stopped this table: it takes no play." : "";
  set("blinds", blindsOf(line));
  set("seats", `${line.seats_taken}/${line.config.max_seats}`);
  set("watching", String(line.spectators));
  set("hands", GROUPED.format(line.hands_played));
  set("avg-pot", line.average_pot === null ? "–" : chips(line.average_pot));
  set("pace", line.hands_per_hour === null ? "–" : GROUPED.format(line.hands_per_hour));
  const link = row.querySelector(".go a");
  link.textContent = stopped ? "Look" : full ? "Watch" : "Watch or sit";
  link.classList.toggle("raise", isOpen(line));
}

function draw() {
  const lines = [...lobby.lines.values()].sort(byName);
  drawBlindsFilter(lines);
  const blinds = $("#filter-blinds").value;
  const openOnly = $("#filter-open").checked;
  const shown = lines.filter(
    (line) => (!blinds || blindsOf(line) === blinds) && (!openOnly || isOpen(line)),
  );
  for (const [table, row] of lobby.rows) {
    if (!lobby.lines.has(table)) {
      row.remove();
      lobby.rows.delete(table);
    }
  }
  const body = $("#tables tbody");
  const rows = shown.map((line) => {
    let row = lobby.rows.get(line.table);
    if (!row) {
      row = newRow(line.table);
      lobby.rows.set(line.table, row);
    }
    fillRow(row, line);
    return row;
  });
  // In order, moving only what is out of place (a row under the pointer stays).
  rows.forEach((row, index) => {
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] ?? null);
  });
  while (body.children.length > rows.length) body.lastElementChild.remove();
  $("#tables").hidden = rows.length === 0;
  $("#no-tables").hidden = lines.length > 0;
  $("#none-shown").hidden = lines.length === 0 || rows.length > 0;
  $("#shown").textContent =
    lines.length > 0 && rows.length < lines.length
      ? `${rows.length} of ${lines.length} tables shown`
      : "";
}

function drawBlindsFilter(lines) {
  const select = $("#filter-blinds");
  const chosen = select.value;
  const seen = new Map();
  for (const line of lines) seen.set(blindsOf(line), line.config.big_blind);
  const wanted = [...seen.entries()].sort((a, b) => a[1] - b[1]).map(([text]) => text);
  if (chosen && !seen.has(chosen)) wanted.push(chosen); // kept while chosen
  const have = [...select.options].slice(1).map((option) => option.value);
  if (have.join() === wanted.join()) return;
  for (const option of [...select.options].slice(1)) option.remove();
  for (const text of wanted) select.add(new Option(text, text));
  select.value = chosen;
}

$("#filter-blinds").addEventListener("change", draw);
$("#filter-open").addEventListener("change", draw);

// Creating a table

const NUMBER_FIELDS = [
  // [input, the config's field, what it is called, smallest value]
  ["#small-blind", "small_blind", "the small blind", 0],
  ["#big-blind", "big_blind", "the big blind", 1],
  ["#min-buy-in", "min_buy_in", "the minimum buy-in", 1],
  ["#max-buy-in", "max_buy_in", "the maximum buy-in", 1],
];

function fieldError(input, text) {
  const error = $(`#${input.id}-error`);
  error.textContent = text;
  input.setAttribute("aria-invalid", text ? "true" : "false");
}

// What is wrong with a number field, in words, or "" (the server checks the
// rest: the blinds' order, the buy-in range, the chips a table can hold).
function numberProblem(input, called, least) {
  const text = input.value.trim();
  if (text === "" && input.validity.badInput) return `Write ${called} as a number.`;
  if (text === "") return `Enter ${called}, in chips.`;
  const value = Number(text);
  if (!Number.isInteger(value)) return "A whole number of chips.";
  if (value < least) return `At least ${least}.`;
  if (!Number.isSafeInteger(value)) return "That is more chips than a table holds.";
  return "";
}

function checkFields() {
  let fine = true;
  for (const [selector, , called, least] of NUMBER_FIELDS) {
    const input = $(selector);
    const problem = numberProblem(input, called, least);
    fieldError(input, problem);
    fine = fine && problem === "";
  }
  return fine;
}

for (const [selector, , called, least] of NUMBER_FIELDS) {
  const input = $(selector);
  input.addEventListener("input", () => {
    if (input.getAttribute("aria-invalid") === "true") {
      fieldError(input, numberProblem(input, called, least));
    }
  });
}

// The server's 400 names the field first ("min_buy_in: expected a whole
// number, got null"): shown next to that field, the rest under the form.
function showRefusal(message) {
  const match = /^(\w+): (.*)$/.exec(message);
  const field = match && NUMBER_FIELDS.find(([, name]) => name === match[1]);
  if (field) {
    fieldError($(field[0]), match[2].charAt(0).toUpperCase() + match[2].slice(1) + ".");
    return;
  }
  $("#create-error").textContent = message;
}

$("#create").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  $("#create-error").textContent = "";
  if (!checkFields()) {
    $("#create [aria-invalid=true]").focus();
    return;
  }
  const body = { name: $("#table-name").value.trim(), max_seats: Number($("#max-seats").value) };
  for (const [selector, name] of NUMBER_FIELDS) body[name] = Number($(selector).value);
  const button = $("#create button[type=submit]");
  button.disabled = true;
  try {
    const { ok, data } = await call("POST", "/tables", { body });
    if (!ok) {
      showRefusal(data.message);
      return;
    }
    // Kept as seat tokens are: the table's page offers its creator "Close table".
    saveCreator(data.table, data.creator_token);
    location.href = `/tables/${encodeURIComponent(data.table)}`;
  } catch (failure) {
    $("#create-error").textContent = "The server cannot be reached: try again.";
  } finally {
    button.disabled = false;
  }
});

follow();
