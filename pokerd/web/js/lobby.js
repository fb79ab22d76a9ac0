// The lobby: the tables with their blinds, seats and hands, and a new table.

import { call } from "./api.js";

const REFRESH_MS = 3000;
const $ = (selector) => document.querySelector(selector);

async function refresh() {
  const { ok, data } = await call("GET", "/tables");
  if (!ok) return;
  const rows = data.map((entry) => {
    const config = entry.config;
    const row = document.createElement("tr");
    row.dataset.table = entry.table;
    const cells = [
      entry.table,
      `${config.small_blind}/${config.big_blind}`,
      `${entry.seats_taken}/${config.max_seats}`,
      String(entry.hands_played),
    ];
    for (const [index, text] of cells.entries()) {
      const cell = document.createElement("td");
      cell.className = ["name", "blinds", "seats", "hands"][index];
      cell.textContent = text;
      row.append(cell);
    }
    const links = document.createElement("td");
    const link = document.createElement("a");
    link.href = `/tables/${encodeURIComponent(entry.table)}`;
    link.className = "button";
    link.textContent = entry.seats_taken < config.max_seats ? "Watch or sit" : "Watch";
    links.append(link);
    row.append(links);
    return row;
  });
  $("#tables tbody").replaceChildren(...rows);
  $("#no-tables").hidden = rows.length > 0;
}

$("#create").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const number = (selector) => Number.parseInt($(selector).value, 10);
  const body = {
    max_seats: number("#max-seats"),
    small_blind: number("#small-blind"),
    big_blind: number("#big-blind"),
    min_buy_in: number("#min-buy-in"),
    max_buy_in: number("#max-buy-in"),
  };
  const { ok, data } = await call("POST", "/tables", { body });
  if (!ok) {
    $("#create-error").textContent = data.message;
    return;
  }
  location.href = `/tables/${encodeURIComponent(data.table)}`;
});

refresh();
setInterval(refresh, REFRESH_MS);
