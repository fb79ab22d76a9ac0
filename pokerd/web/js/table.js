// The table page: draws the viewer's view of one table and sends its requests.

import { call, forgetSeat, liveUrl, saveSeat, savedSeat } from "./api.js";
import { card, cardBack, cardText } from "./cards.js";
import { TableConnection } from "./connection.js";

const LOG_LINES = 40;
const $ = (selector) => document.querySelector(selector);

const table = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const state = { connection: null, view: null, names: new Map(), live: null };
window.pokerdTable = state; // for tests and the curious: the connection's state

function setText(selector, text) {
  $(selector).textContent = text;
}

function showNotice(text, kind = "error") {
  const notice = $("#notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => {
    notice.hidden = true;
  }, 8000);
}

function nameOf(seat) {
  return state.names.get(seat) ?? `seat ${seat + 1}`;
}

// The hand log

function describe(event) {
  switch (event.type) {
    case "player_seated":
      state.names.set(event.seat, event.name);
      return `${event.name} sits down with ${event.stack}`;
    case "player_left":
      return `${event.name} leaves with ${event.stack}`;
    case "leave_scheduled":
      return `${nameOf(event.seat)} leaves after this hand`;
    case "table_closing":
      return "The table closes after this hand";
    case "table_closed":
      return "The table is closed";
    case "player_sat_out":
      return `${nameOf(event.seat)} sits out${event.reason === "timeouts" ? " (timed out)" : ""}`;
    case "player_returned":
      return `${nameOf(event.seat)} is back`;
    case "chips_added":
      return `${nameOf(event.seat)} tops up ${event.amount}`;
    case "hand_dealt":
      event.seats.forEach((seat, index) => state.names.set(seat, event.names[index]));
      return `— Hand #${event.hand} — ${nameOf(event.button)} has the button`;
    case "action_taken": {
      const who = nameOf(event.seat);
      const suffix = event.all_in ? " (all in)" : "";
      const why = event.cause === "player" ? "" : ` (${event.cause})`;
      switch (event.action) {
        case "fold":
          return `${who} folds${why}`;
        case "check":
          return `${who} checks${why}`;
        case "call":
          return `${who} calls ${event.amount}${suffix}`;
        case "bet":
          return `${who} bets ${event.amount}${suffix}`;
        default:
          return `${who} raises to ${event.amount}${suffix}`;
      }
    }
    case "board_dealt":
      return `${event.street[0].toUpperCase()}${event.street.slice(1)}: ${event.cards.map(cardText).join(" ")}`;
    case "hole_cards_shown":
      return `${nameOf(event.seat)} shows ${event.cards.map(cardText).join(" ")}`;
    case "hole_cards_mucked":
      return `${nameOf(event.seat)} mucks`;
    case "hand_ended":
      return event.pots
        .flatMap((pot) => pot.shares.map((share) => `${nameOf(share.seat)} wins ${share.amount}`))
        .join(", ");
    default:
      return null;
  }
}

function logEvent({ seq, event }) {
  const text = describe(event);
  if (!text) return;
  const line = document.createElement("li");
  line.textContent = text;
  line.dataset.seq = seq;
  line.dataset.type = event.type;
  const lines = $("#log-lines");
  lines.append(line);
  while (lines.children.length > LOG_LINES) lines.firstElementChild.remove();
  lines.scrollTop = lines.scrollHeight;
}

// Drawing the view

function seatPosition(index, size, bottom) {
  // Seats around the oval, the viewer's (or seat 1) at the bottom middle.
  const angle = Math.PI / 2 + ((index - bottom) * 2 * Math.PI) / size;
  const narrow = window.innerWidth < 640; // a phone: keep the side seats on screen
  return { x: 50 + (narrow ? 36 : 46) * Math.cos(angle), y: 50 + 44 * Math.sin(angle), angle };
}

function potTotal(view) {
  const pots = view.pots.reduce((sum, pot) => sum + pot.amount, 0);
  const bets = view.seats.reduce((sum, seat) => sum + (seat ? seat.bet : 0), 0);
  return pots + bets;
}

function drawSeats(view) {
  const seats = $("#seats");
  seats.replaceChildren();
  const size = view.seats.length;
  const bottom = view.viewer ?? 0;
  view.seats.forEach((seat, index) => {
    const { x, y, angle } = seatPosition(index, size, bottom);
    const box = document.createElement("div");
    box.className = "seat";
    box.dataset.seat = index;
    box.style.left = `${x}%`;
    box.style.top = `${y}%`;
    if (seat === null) {
      box.classList.add("empty");
      if (view.viewer === null) {
        const button = document.createElement("button");
        button.className = "sit";
        button.textContent = "Sit here";
        button.addEventListener("click", () => openSitDialog(index));
        box.append(button);
      } else {
        box.textContent = "empty";
      }
      seats.append(box);
      return;
    }
    state.names.set(index, seat.name);
    box.classList.toggle("mine", index === view.viewer);
    box.classList.toggle("folded", view.hand_in_progress && !seat.in_hand && seat.cards.length === 0 && seat.hidden_cards === 0);
    box.classList.toggle("to-act", view.to_act === index);
    box.dataset.inHand = String(seat.in_hand);
    const cards = document.createElement("div");
    cards.className = "hole";
    for (const code of seat.cards) cards.append(card(code));
    for (let n = 0; n < seat.hidden_cards; n += 1) cards.append(cardBack());
    const plate = document.createElement("div");
    plate.className = "plate";
    const status = seat.leaving
      ? "leaving"
      : seat.sitting_out
        ? "sitting out"
        : seat.all_in
          ? "all in"
          : "";
    plate.innerHTML = `<span class="name"></span><span class="stack"></span><span class="status"></span>`;
    plate.querySelector(".name").textContent = seat.name;
    plate.querySelector(".stack").textContent = String(seat.stack);
    plate.querySelector(".status").textContent = status;
    box.append(cards, plate);
    if (view.to_act === index && view.deadline_ms) {
      const clock = document.createElement("div");
      clock.className = "clock";
      clock.dataset.deadline = view.deadline_ms;
      clock.innerHTML = `<div class="fill"></div><span></span>`;
      box.append(clock);
    }
    if (view.button === index) {
      const dealer = document.createElement("div");
      dealer.className = "dealer";
      dealer.textContent = "D";
      box.append(dealer);
    }
    if (seat.bet > 0) {
      const bet = document.createElement("div");
      bet.className = "bet";
      bet.textContent = String(seat.bet);
      bet.style.left = `${50 + 30 * Math.cos(angle)}%`;
      bet.style.top = `${50 + 26 * Math.sin(angle)}%`;
      bet.dataset.seat = index;
      seats.append(bet);
    }
    seats.append(box);
  });
}

function drawCenter(view) {
  const board = $("#board");
  board.replaceChildren(...view.board.map(card));
  const pots = $("#pots");
  pots.replaceChildren();
  view.pots.forEach((pot, index) => {
    const line = document.createElement("div");
    line.className = "pot";
    line.textContent = `${index === 0 ? "Pot" : `Side pot ${index}`}: ${pot.amount}`;
    pots.append(line);
  });
  const results = $("#results");
  results.replaceChildren();
  if (!view.hand_in_progress) {
    for (const pot of view.results) {
      for (const share of pot.shares) {
        const line = document.createElement("div");
        line.className = "winner";
        line.textContent = `${nameOf(share.seat)} wins ${share.amount}`;
        results.append(line);
      }
    }
  }
  const hand = $("#hand-number");
  hand.dataset.hand = view.hand;
  hand.dataset.inProgress = String(view.hand_in_progress);
  hand.textContent = view.hand ? `Hand #${view.hand}${view.hand_in_progress ? "" : " · over"}` : "Waiting for players";
}

function drawActions(view) {
  const actions = $("#actions");
  const legal = view.legal;
  actions.hidden = legal === null;
  if (legal === null) return;
  $("#fold").hidden = !legal.fold;
  $("#check").hidden = !legal.check;
  $("#call").hidden = legal.call === 0;
  $("#call").textContent = `Call ${legal.call}`;
  const canRaise = legal.min_raise_to !== null && legal.max_raise_to !== null;
  $("#raise-box").hidden = !canRaise;
  if (!canRaise) return;
  const facing = Math.max(...view.seats.map((seat) => (seat ? seat.bet : 0)));
  $("#raise").textContent = facing > 0 ? "Raise to" : "Bet";
  const amount = $("#amount");
  const range = $("#amount-range");
  for (const input of [amount, range]) {
    input.min = legal.min_raise_to;
    input.max = legal.max_raise_to;
  }
  const key = `${view.hand}/${legal.min_raise_to}/${legal.max_raise_to}`;
  if (actions.dataset.key !== key) {
    // A new decision: start from the minimum raise.
    actions.dataset.key = key;
    amount.value = range.value = legal.min_raise_to;
  }
  const pot = potTotal(view) + legal.call;
  const clamp = (value) => Math.max(legal.min_raise_to, Math.min(legal.max_raise_to, Math.floor(value)));
  $("#half-pot").dataset.amount = clamp(facing + pot / 2);
  $("#pot-size").dataset.amount = clamp(facing + pot);
  $("#all-in-size").dataset.amount = legal.max_raise_to;
}

function drawControls(view) {
  const mine = view.viewer === null ? null : view.seats[view.viewer];
  $("#controls").hidden = !mine;
  if (!mine) return;
  $("#sit-out").hidden = mine.sitting_out;
  $("#come-back").hidden = !mine.sitting_out;
  const topUp = $("#top-up-amount");
  if (view.config) {
    topUp.max = Math.max(0, view.config.max_buy_in - mine.stack);
    if (!topUp.value) topUp.value = topUp.max;
  }
}

function draw(view) {
  state.view = view;
  if (view.config) {
    setText("#blinds", `Blinds ${view.config.small_blind}/${view.config.big_blind}`);
  }
  drawSeats(view);
  drawCenter(view);
  drawActions(view);
  drawControls(view);
  tick();
}

function tick() {
  for (const clock of document.querySelectorAll(".clock")) {
    const left = Math.max(0, Number(clock.dataset.deadline) - Date.now());
    const total = state.view?.config?.action_clock_ms ?? 30000;
    clock.querySelector("span").textContent = `${Math.ceil(left / 1000)}s`;
    clock.querySelector(".fill").style.width = `${Math.min(100, (100 * left) / total)}%`;
    clock.classList.toggle("low", left < 5000);
  }
}

// Requests

async function send(message) {
  const connection = state.connection;
  if (!connection || !connection.token) return null;
  for (const button of document.querySelectorAll("#actions button")) button.disabled = true;
  try {
    const answer = await connection.request(message);
    if (answer.type === "error") showNotice(answer.message);
    else $("#notice").hidden = true;
    return answer;
  } finally {
    for (const button of document.querySelectorAll("#actions button")) button.disabled = false;
  }
}

function wireActions() {
  $("#fold").addEventListener("click", () => send({ type: "act", action: "fold", amount: null }));
  $("#check").addEventListener("click", () => send({ type: "act", action: "check", amount: null }));
  $("#call").addEventListener("click", () => send({ type: "act", action: "call", amount: null }));
  const amount = $("#amount");
  const range = $("#amount-range");
  range.addEventListener("input", () => {
    amount.value = range.value;
  });
  amount.addEventListener("input", () => {
    range.value = amount.value;
  });
  for (const shortcut of document.querySelectorAll(".shortcut")) {
    shortcut.addEventListener("click", () => {
      amount.value = range.value = shortcut.dataset.amount;
    });
  }
  $("#raise-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const value = Number.parseInt(amount.value, 10);
    if (!Number.isFinite(value)) {
      showNotice("enter an amount");
      return;
    }
    // Sent as typed: the server is the judge, and its message is shown.
    const facing = Math.max(...state.view.seats.map((seat) => (seat ? seat.bet : 0)));
    send({ type: "act", action: facing > 0 ? "raise" : "bet", amount: value });
  });
  $("#sit-out").addEventListener("click", () => send({ type: "sit_out" }));
  $("#come-back").addEventListener("click", () => send({ type: "come_back" }));
  $("#leave").addEventListener("click", () => send({ type: "leave" }));
  $("#top-up").addEventListener("click", () => {
    const value = Number.parseInt($("#top-up-amount").value, 10);
    send({ type: "top_up", amount: Number.isFinite(value) ? value : 0 });
  });
}

// Sitting down

function openSitDialog(seat) {
  const dialog = $("#sit-dialog");
  const config = state.view?.config;
  $("#sit-seat").value = seat;
  setText("#sit-title", `Sit at seat ${seat + 1}`);
  const buyIn = $("#sit-buy-in");
  if (config) {
    buyIn.min = config.min_buy_in;
    buyIn.max = config.max_buy_in;
    buyIn.value = Math.min(config.max_buy_in, Math.max(config.min_buy_in, 100));
    setText("#sit-range", `${config.min_buy_in} to ${config.max_buy_in}`);
  }
  $("#sit-name").value = localStorage.getItem("pokerd.name") ?? "";
  $("#sit-error").textContent = "";
  dialog.showModal();
}

function wireSitDialog() {
  $("#sit-cancel").addEventListener("click", () => $("#sit-dialog").close());
  $("#sit-form").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const name = $("#sit-name").value.trim();
    const body = {
      seat: Number.parseInt($("#sit-seat").value, 10),
      name,
      buy_in: Number.parseInt($("#sit-buy-in").value, 10),
    };
    const { ok, data } = await call("POST", `/tables/${table}/seats`, { body });
    if (!ok) {
      $("#sit-error").textContent = data.message;
      return;
    }
    localStorage.setItem("pokerd.name", name);
    saveSeat(table, { token: data.token, seat: data.seat });
    $("#sit-dialog").close();
    follow(data.token);
  });
}

// The connection

function follow(token) {
  if (state.connection) state.connection.stop();
  const connection = new TableConnection({ table, token, liveUrl: state.live });
  state.connection = connection;
  connection.addEventListener("mode", ({ detail }) => {
    const badge = $("#conn");
    badge.dataset.mode = detail;
    badge.textContent = detail;
  });
  connection.addEventListener("event", ({ detail }) => logEvent(detail));
  connection.addEventListener("view", ({ detail }) => draw(detail));
  connection.addEventListener("notice", ({ detail }) => showNotice(detail.message));
  connection.addEventListener("ended", ({ detail }) => {
    if (detail === "seat_lost") {
      forgetSeat(table);
      showNotice("You are no longer seated: watching.", "info");
    } else {
      showNotice("This table is gone.");
      const badge = $("#conn");
      badge.dataset.mode = "closed";
      badge.textContent = "table gone";
    }
  });
  connection.start();
}

async function main() {
  setText("#title", `Table ${table}`);
  document.title = `pokerd · ${table}`;
  wireActions();
  wireSitDialog();
  setInterval(tick, 250);
  state.live = await liveUrl();
  const seated = savedSeat(table);
  follow(seated ? seated.token : null);
}

main();
