// The table page: draws the viewer's view of one table and sends its requests.

import { call, forgetCreator, forgetSeat, liveUrl, saveSeat, savedCreator, savedSeat } from "./api.js";
import { card, cardBack, cardText } from "./cards.js";
import { TableConnection } from "./connection.js";
import { TurnAlert } from "./alert.js";

const LOG_LINES = 80;
// How far back a page that joins mid-hand looks for the hand's first event.
const BACKFILL_EVENTS = 400;
const $ = (selector) => document.querySelector(selector);

const table = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const state = {
  connection: null,
  view: null,
  names: new Map(),
  live: null,
  pre: { choice: null, amount: 0, situation: null },
  autoActed: null, // the turn a pre-action was sent for
  highlight: null, // the seat whose best five cards the board shows
  alert: null,
};
window.pokerdTable = state; // for tests and the curious: the connection's state

function setText(selector, text) {
  $(selector).textContent = text;
}

function showNotice(text, kind = "error") {
  if (state.gone) return; // the table's end stays said
  const notice = $("#notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => {
    notice.hidden = true;
  }, 8000);
}

function announce(text) {
  setText("#announcer", text);
}

// The table is gone (stopped, or no longer in the log) or closed: said for
// good, with the way back to the lobby; nothing here can be played any more.
function showGone(text = "This table is gone.", badgeText = "table gone") {
  if (state.gone) return; // said already (a closed table's stream then ends)
  showNotice(text);
  state.gone = true;
  clearTimeout(showNotice.timer);
  const notice = $("#notice");
  notice.dataset.kind = "gone";
  // Said where the actions were, clear of the seats: nothing is played here now.
  $("#action-area").append(notice);
  $("#waiting-note").hidden = true;
  const back = document.createElement("a");
  back.href = "/";
  back.className = "button";
  back.textContent = "Back to the lobby";
  notice.append(" ", back);
  $("#actions").hidden = true;
  $("#controls").hidden = true;
  if (state.view) drawSeats(state.view); // empty seats say so, with no "Sit here"
  document.body.classList.add("gone");
  const badge = $("#conn");
  badge.dataset.mode = "closed";
  badge.textContent = badgeText;
  $("#close-table").hidden = true;
  $("#pre-actions").hidden = true;
}

// Closing after this hand, or closed: from the view's `closing`/`closed`.
function drawClosing(view) {
  $("#closing").hidden = !view.closing || view.closed;
  $("#close-table").hidden = !savedCreator(table) || view.closing || view.closed || Boolean(state.gone);
  if (!view.closed) return;
  // Its tokens hold nothing now.
  forgetSeat(table);
  forgetCreator(table);
  showGone("This table is closed.", "closed");
}

function nameOf(seat) {
  return state.names.get(seat) ?? `seat ${seat + 1}`;
}

// The hand log

function describe(event, view) {
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
    case "hand_ended": {
      const shown = view && view.hand === event.hand ? view : null;
      return resultLines(event.pots, shown)
        .map((line) => line.text)
        .join("; ");
    }
    default:
      return null;
  }
}

// The result's line names the hands once a view of the ended hand is drawn
// (the view comes with the last event of a batch, maybe after hand_ended).
function nameHandsInLog(view) {
  if (view.hand_in_progress || view.hand === 0) return;
  const line = $(`#log-lines li[data-type="hand_ended"][data-hand="${view.hand}"]`);
  if (line) line.textContent = resultLines(view.results, view).map((each) => each.text).join("; ");
}

function logEvent({ seq, event, view = null }) {
  const lines = $("#log-lines");
  if (lines.querySelector(`li[data-seq="${seq}"]`)) return; // already there
  const text = describe(event, view);
  if (!text) return;
  const line = document.createElement("li");
  line.textContent = text;
  line.dataset.seq = seq;
  line.dataset.type = event.type;
  if (event.hand !== undefined) line.dataset.hand = event.hand;
  // In seq order: lines fetched for a page that joined mid-hand come late.
  const later = [...lines.children].find((other) => Number(other.dataset.seq) > seq);
  lines.insertBefore(line, later ?? null);
  while (lines.children.length > LOG_LINES) lines.firstElementChild.remove();
  if (!later) lines.scrollTop = lines.scrollHeight;
}

// A page that starts from a snapshot has seen none of the hand's events:
// fetch them (as this viewer may see them) and log the hand so far.
async function backfill(connection, seq) {
  const view = connection.view;
  if (!view || view.hand === 0 || connection.epoch === null) return;
  const query = `after=${Math.max(0, seq - BACKFILL_EVENTS)}&wait=0&epoch=${encodeURIComponent(connection.epoch)}`;
  let page;
  try {
    const response = await fetch(`/tables/${table}/events?${query}`, { headers: connection.headers() });
    if (!response.ok) return;
    page = await response.json();
  } catch (failure) {
    return; // the log just starts later
  }
  if (!page.recovered || state.connection !== connection) return;
  const events = page.events.filter((message) => message.seq <= seq);
  const dealt = events.findLastIndex(
    (message) => message.event.type === "hand_dealt" && message.event.hand === view.hand,
  );
  if (dealt < 0) return;
  for (const message of events.slice(dealt)) logEvent({ ...message, view: null });
}

// Drawing the view

function seatPosition(index, size, bottom) {
  // Seats around the oval, the viewer's (or seat 1) at the bottom middle.
  const angle = Math.PI / 2 + ((index - bottom) * 2 * Math.PI) / size;
  const narrow = window.innerWidth < 640; // a phone: keep the side seats on screen
  return { x: 50 + (narrow ? 36 : 46) * Math.cos(angle), y: 50 + 44 * Math.sin(angle), angle };
}

function betsOnStreet(view) {
  return view.seats.reduce((sum, seat) => sum + (seat ? seat.bet : 0), 0);
}

function potTotal(view) {
  return view.pots.reduce((sum, pot) => sum + pot.amount, 0) + betsOnStreet(view);
}

function highestBet(view) {
  return Math.max(0, ...view.seats.map((seat) => (seat ? seat.bet : 0)));
}

// A seat's label, in words (not only dimming): what it is doing now.
function seatStatus(view, seat) {
  if (seat.leaving) return ["leaving", "leaving"];
  if (seat.sitting_out) return ["sitting-out", "sitting out"];
  if (seat.folded) return ["folded", "folded"];
  if (seat.all_in) return ["all-in", "all in"];
  const dealtIn = seat.in_hand || seat.cards.length > 0 || seat.hidden_cards > 0;
  if (view.hand > 0 && seat.waiting_for_big_blind && !dealtIn) return ["waiting", "waiting for big blind"];
  return ["", ""];
}

function drawSeats(view) {
  const seats = $("#seats");
  seats.replaceChildren();
  const size = view.seats.length;
  const bottom = view.viewer ?? 0;
  const over = !view.hand_in_progress && view.hand > 0;
  view.seats.forEach((seat, index) => {
    const { x, y, angle } = seatPosition(index, size, bottom);
    const box = document.createElement("div");
    box.className = "seat";
    box.dataset.seat = index;
    box.setAttribute("role", "listitem");
    box.style.left = `${x}%`;
    box.style.top = `${y}%`;
    if (seat === null) {
      box.classList.add("empty");
      box.setAttribute("aria-label", `Seat ${index + 1}: empty`);
      if (view.viewer === null && !view.closing && !view.closed && !state.gone) {
        const button = document.createElement("button");
        button.className = "sit";
        button.textContent = "Sit here";
        button.setAttribute("aria-label", `Sit at seat ${index + 1}`);
        button.addEventListener("click", () => openSitDialog(index));
        box.append(button);
      } else {
        box.textContent = "empty";
      }
      seats.append(box);
      return;
    }
    state.names.set(index, seat.name);
    const [kind, status] = seatStatus(view, seat);
    box.classList.toggle("mine", index === view.viewer);
    box.classList.toggle("folded", seat.folded);
    // Cards shown at showdown stay bright, whatever the seat does next.
    box.classList.toggle("out", (kind === "sitting-out" || kind === "waiting") && !seat.shown_hand);
    // The seat at the foot has the action area right below it: its hand's
    // name goes above its cards, on the felt, as across the table.
    box.dataset.half = Math.sin(angle) < -0.2 ? "top" : Math.sin(angle) > 0.95 ? "foot" : "bottom";
    box.classList.toggle("to-act", view.to_act === index);
    box.dataset.inHand = String(seat.in_hand);
    box.dataset.status = kind;
    const cards = document.createElement("div");
    cards.className = "hole";
    const best = seat.shown_hand ? new Set(seat.shown_hand.cards) : null;
    for (const code of seat.cards) {
      const face = card(code);
      if (best) face.classList.add(best.has(code) ? "best" : "unused");
      cards.append(face);
    }
    for (let n = 0; n < seat.hidden_cards; n += 1) cards.append(cardBack());
    const plate = document.createElement("div");
    plate.className = "plate";
    plate.innerHTML = `<span class="name"></span><span class="stack"></span><span class="status"></span>`;
    plate.querySelector(".name").textContent = seat.name;
    plate.querySelector(".stack").textContent = String(seat.stack);
    const badge = plate.querySelector(".status");
    badge.textContent = status;
    badge.dataset.kind = kind;
    box.append(cards, plate);
    if (seat.shown_hand) {
      const named = document.createElement("div");
      named.className = "hand-name";
      named.textContent = seat.shown_hand.name;
      const won = over && view.results.some((pot) => pot.shares.some((share) => share.seat === index));
      named.classList.toggle("won", won);
      box.append(named);
    }
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
      dealer.setAttribute("aria-hidden", "true");
      plate.append(dealer); // on the plate's corner, clear of the hand's name
    }
    if (seat.bet > 0) {
      // Next to its own seat, toward the middle of the table.
      const bet = document.createElement("div");
      bet.className = "bet";
      bet.textContent = String(seat.bet);
      bet.dataset.seat = index;
      bet.style.left = `calc(50% - ${Math.cos(angle).toFixed(3)} * var(--bet-reach-x))`;
      bet.style.top = `calc(50% - ${Math.sin(angle).toFixed(3)} * var(--bet-reach-y))`;
      box.append(bet);
    }
    const words = [`Seat ${index + 1}: ${seat.name}${index === view.viewer ? " (you)" : ""}`, `${seat.stack} chips`];
    if (seat.bet > 0) words.push(`bet ${seat.bet}`);
    if (status) words.push(status);
    if (view.button === index) words.push("dealer");
    if (view.to_act === index) words.push("to act");
    if (seat.shown_hand) words.push(seat.shown_hand.name);
    box.setAttribute("aria-label", words.join(", "));
    seats.append(box);
  });
}

// Who won which pot, in words: [{pot, seat, text}].
function resultLines(pots, view) {
  const lines = [];
  pots.forEach((pot, index) => {
    const where = pots.length === 1 ? "" : index === 0 ? "Main pot: " : `Side pot ${pots.length > 2 ? `${index} ` : ""}`.trimEnd() + ": ";
    for (const share of pot.shares) {
      const shown = view?.seats[share.seat]?.shown_hand;
      const how = shown ? ` with ${shown.name}` : "";
      lines.push({ pot: index, seat: share.seat, text: `${where}${nameOf(share.seat)} wins ${share.amount}${how}` });
    }
  });
  return lines;
}

// The board marks the five cards of one winner's hand (the main pot's, or
// the one whose result line is pointed at).
function markBoard(view) {
  const seat = state.highlight === null ? null : view.seats[state.highlight];
  const best = seat?.shown_hand ? new Set(seat.shown_hand.cards) : null;
  for (const face of document.querySelectorAll("#board .card")) {
    face.classList.toggle("best", best !== null && best.has(face.dataset.card));
    face.classList.toggle("unused", best !== null && !best.has(face.dataset.card));
  }
  for (const line of document.querySelectorAll("#results .winner")) {
    line.classList.toggle("marked", Number(line.dataset.seat) === state.highlight);
  }
}

function drawCenter(view) {
  $("#board").replaceChildren(...view.board.map(card));
  const total = $("#pot-total");
  total.hidden = !view.hand_in_progress;
  total.textContent = `Pot ${potTotal(view)}`;
  const pots = $("#pots");
  pots.replaceChildren();
  if (view.pots.length > 1) {
    view.pots.forEach((pot, index) => {
      const line = document.createElement("span");
      line.className = "pot";
      line.textContent = `${index === 0 ? "Main" : `Side ${view.pots.length > 2 ? index : ""}`.trimEnd()} ${pot.amount}`;
      pots.append(line);
    });
  }
  const results = $("#results");
  results.replaceChildren();
  const over = !view.hand_in_progress && view.hand > 0;
  state.highlight = null;
  if (over) {
    const lines = resultLines(view.results, view);
    for (const { pot, seat, text } of lines) {
      const line = document.createElement("button");
      line.type = "button";
      line.className = "winner";
      line.dataset.pot = pot;
      line.dataset.seat = seat;
      line.textContent = text;
      const mark = () => {
        state.highlight = seat;
        markBoard(view);
      };
      line.addEventListener("mouseenter", mark);
      line.addEventListener("focus", mark);
      line.addEventListener("click", mark);
      results.append(line);
    }
    const first = lines.find((line) => view.seats[line.seat]?.shown_hand);
    state.highlight = first ? first.seat : null;
  }
  markBoard(view);
  const hand = $("#hand-number");
  hand.dataset.hand = view.hand;
  hand.dataset.inProgress = String(view.hand_in_progress);
  hand.textContent = view.closed
    ? "Closed"
    : view.hand
      ? `Hand #${view.hand}${view.hand_in_progress ? "" : " · over"}`
      : "Waiting for players";
}

function mySeat(view) {
  return view.viewer === null ? null : view.seats[view.viewer];
}

function drawActions(view) {
  const actions = $("#actions");
  const legal = view.legal;
  actions.hidden = legal === null;
  if (legal === null) return;
  $("#fold").hidden = !legal.fold;
  $("#check").hidden = !legal.check;
  $("#call").hidden = legal.call === 0;
  $("#call .label").textContent = `Call ${legal.call}`;
  const canRaise = legal.min_raise_to !== null && legal.max_raise_to !== null;
  $("#raise-box").hidden = !canRaise;
  if (!canRaise) return;
  const facing = highestBet(view);
  $("#raise .label").textContent = facing > 0 ? "Raise to" : "Bet";
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

// Pre-actions: chosen while it is not my turn, played when it comes, and
// cleared when the situation they were chosen in changes (a new street or
// hand; "Call N" also when the price to call is no longer N).

function toCall(view, mine) {
  return Math.min(mine.stack, Math.max(0, highestBet(view) - mine.bet));
}

function clearPreActions() {
  state.pre = { ...state.pre, choice: null, amount: 0 };
  for (const box of document.querySelectorAll("#pre-actions input")) box.checked = false;
}

function drawPreActions(view) {
  const mine = mySeat(view);
  const offered =
    mine !== null &&
    view.hand_in_progress &&
    mine.in_hand &&
    !mine.all_in &&
    view.legal === null &&
    view.to_act !== view.viewer;
  const situation = `${view.hand}/${view.board.length}`;
  if (state.pre.situation !== situation) {
    clearPreActions();
    state.pre.situation = situation;
  }
  $("#pre-actions").hidden = !offered;
  if (!offered) return;
  const price = toCall(view, mine);
  if (state.pre.choice === "call" && state.pre.amount !== price) clearPreActions();
  $("#pre-call").dataset.amount = price;
  setText("#pre-call-label", price === 0 ? "Check" : `Call ${price}`);
}

// My turn with a pre-action chosen: play it (once).
function playPreAction(view) {
  const legal = view.legal;
  const choice = state.pre.choice;
  if (legal === null || choice === null) return false;
  const turn = `${view.hand}/${view.board.length}/${view.deadline_ms}`;
  if (state.autoActed === turn) return false;
  let action = null;
  if (choice === "check_fold") action = legal.check ? "check" : "fold";
  else if (choice === "call_any") action = legal.check ? "check" : "call";
  else if (choice === "call" && legal.call === state.pre.amount) action = legal.check ? "check" : "call";
  clearPreActions();
  if (action === null) return false;
  state.autoActed = turn;
  send({ type: "act", action, amount: null }).then((answer) => {
    // Refused (the table moved on): the buttons come back for this turn.
    if (answer?.type === "error" && state.view) draw(state.view);
  });
  return true;
}

function drawControls(view) {
  const mine = mySeat(view);
  $("#controls").hidden = !mine;
  if (!mine) return;
  $("#sit-out").hidden = mine.sitting_out;
  $("#come-back").hidden = !mine.sitting_out;
  const topUp = $("#top-up-amount");
  if (view.config) {
    const room = Math.max(0, view.config.max_buy_in - mine.stack);
    topUp.max = room;
    topUp.disabled = $("#top-up").disabled = room === 0;
    topUp.placeholder = room === 0 ? "at max" : `up to ${room}`;
    // Offer the room left, never "0"; a value the player typed is kept.
    if (room === 0) topUp.value = "";
    else if (!topUp.value || topUp.dataset.offered === topUp.value) topUp.value = room;
    topUp.dataset.offered = room === 0 ? "" : String(room);
  }
}

function drawWaitingNote(view) {
  const mine = mySeat(view);
  const note = $("#waiting-note");
  const shown = $("#actions").hidden && $("#pre-actions").hidden && !state.gone;
  note.hidden = !shown;
  if (!shown) return;
  let text = "";
  if (mine === null && view.closing) text = "Watching. The table closes after this hand.";
  else if (mine === null) text = view.viewer === null ? "Watching. Pick an empty seat to play." : "";
  else if (mine.sitting_out) text = "You are sitting out.";
  else if (mine.all_in && view.hand_in_progress) text = "You are all in.";
  else if (mine.folded) text = "You folded. Next hand soon.";
  else if (view.hand_in_progress && !mine.in_hand) text = "You are dealt in from the next hand.";
  else text = "Waiting for the next hand.";
  note.textContent = text;
}

// My turn came: a sound, a flashing title, and words for screen readers.
function noticeTurn(view) {
  const mine = view.legal !== null;
  const turn = mine ? `${view.hand}/${view.board.length}/${view.deadline_ms}` : null;
  if (turn === state.turn) return;
  state.turn = turn;
  if (!mine) {
    state.alert.stop();
    return;
  }
  state.alert.start();
  const legal = view.legal;
  const price = legal.check ? "check or bet" : `${legal.call} to call`;
  announce(`Your turn: ${price}. Pot ${potTotal(view)}.`);
}

function draw(view) {
  state.view = view;
  if (view.config) {
    setText("#blinds", `Blinds ${view.config.small_blind}/${view.config.big_blind}`);
  }
  drawSeats(view);
  drawCenter(view);
  drawActions(view);
  drawPreActions(view);
  drawControls(view);
  if (playPreAction(view)) {
    // Sent already: no sound, and the buttons stay down until it is applied.
    state.turn = `${view.hand}/${view.board.length}/${view.deadline_ms}`;
    $("#actions").hidden = true;
  } else {
    noticeTurn(view);
  }
  drawWaitingNote(view);
  drawClosing(view);
  nameHandsInLog(view);
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

function raiseAction() {
  return highestBet(state.view) > 0 ? "raise" : "bet";
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
    send({ type: "act", action: raiseAction(), amount: value });
  });
  for (const box of document.querySelectorAll("#pre-actions input")) {
    box.addEventListener("change", () => {
      const choice = box.checked ? box.dataset.choice : null;
      for (const other of document.querySelectorAll("#pre-actions input")) {
        if (other !== box) other.checked = false;
      }
      state.pre.choice = choice;
      state.pre.amount = choice === "call" ? Number($("#pre-call").dataset.amount) : 0;
    });
  }
  $("#sit-out").addEventListener("click", () => send({ type: "sit_out" }));
  $("#come-back").addEventListener("click", () => send({ type: "come_back" }));
  $("#leave").addEventListener("click", () => send({ type: "leave" }));
  $("#top-up").addEventListener("click", () => {
    const value = Number.parseInt($("#top-up-amount").value, 10);
    send({ type: "top_up", amount: Number.isFinite(value) ? value : 0 });
  });
}

// Keyboard: F fold, C check or call, R to the amount (Enter confirms it,
// the arrow keys step it by a big blind, Shift by ten), Escape leaves it.

function usable(selector) {
  const element = $(selector);
  return !$("#actions").hidden && !element.hidden && !element.disabled && element.offsetParent !== null;
}

function stepAmount(direction, big) {
  const view = state.view;
  const amount = $("#amount");
  const step = (view?.config?.big_blind ?? 1) * (big ? 10 : 1);
  const low = Number(amount.min);
  const high = Number(amount.max);
  const now = Number.parseInt(amount.value, 10);
  const start = Number.isFinite(now) ? now : low;
  const next = Math.max(low, Math.min(high, start + direction * step));
  amount.value = $("#amount-range").value = next;
}

function wireKeyboard() {
  document.addEventListener("keydown", (pressed) => {
    if (pressed.ctrlKey || pressed.metaKey || pressed.altKey) return;
    if ($("#sit-dialog").open || $("#close-dialog").open) return;
    const target = pressed.target;
    const onAmount = target === $("#amount") || target === $("#amount-range");
    if (onAmount && ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(pressed.key)) {
      pressed.preventDefault();
      stepAmount(pressed.key === "ArrowUp" || pressed.key === "ArrowRight" ? 1 : -1, pressed.shiftKey);
      return;
    }
    if (onAmount && pressed.key === "Escape") {
      target.blur();
      return;
    }
    const typing = target instanceof HTMLInputElement && ["text", "number"].includes(target.type);
    if (typing || target instanceof HTMLTextAreaElement) return;
    switch (pressed.key.toLowerCase()) {
      case "f":
        if (usable("#fold")) $("#fold").click();
        else return;
        break;
      case "c":
        if (usable("#check")) $("#check").click();
        else if (usable("#call")) $("#call").click();
        else return;
        break;
      case "r":
        if (!usable("#raise-box")) return;
        $("#amount").focus();
        $("#amount").select();
        break;
      default:
        return;
    }
    pressed.preventDefault();
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

// Closing the table (its creator only: this browser created it)

function wireCloseDialog() {
  const dialog = $("#close-dialog");
  $("#close-table").addEventListener("click", () => {
    $("#close-error").textContent = "";
    dialog.showModal();
  });
  $("#close-cancel").addEventListener("click", () => dialog.close());
  $("#close-form").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const token = savedCreator(table);
    const confirm = $("#close-confirm");
    confirm.disabled = true;
    try {
      const { ok, data } = await call("POST", `/tables/${table}/close`, { token });
      // Refused as closing or closed already: a close got there first.
      if (!ok && data.code !== "already_closing" && data.code !== "table_closed") {
        $("#close-error").textContent = data.message;
        return;
      }
      dialog.close();
      $("#close-table").hidden = true; // the view says closing or closed next
    } catch (failure) {
      $("#close-error").textContent = "The server cannot be reached: try again.";
    } finally {
      confirm.disabled = false;
    }
  });
}

// The connection

function follow(token) {
  if (state.connection) state.connection.stop();
  const connection = new TableConnection({ table, token, liveUrl: state.live });
  state.connection = connection;
  connection.addEventListener("mode", ({ detail }) => {
    if (state.gone) return;
    const badge = $("#conn");
    badge.dataset.mode = detail;
    badge.textContent = detail;
  });
  connection.addEventListener("event", ({ detail }) => logEvent(detail));
  connection.addEventListener("snapshot", ({ detail }) => {
    // After the view is drawn: the backfill asks which hand it shows.
    queueMicrotask(() => backfill(connection, detail.seq));
  });
  connection.addEventListener("view", ({ detail }) => {
    if (detail.config && detail.config.name) showName(detail.config.name);
    draw(detail);
  });
  connection.addEventListener("notice", ({ detail }) => showNotice(detail.message));
  connection.addEventListener("ended", ({ detail }) => {
    if (detail === "table_closed") {
      showGone("This table is closed.", "closed");
    } else if (detail === "seat_lost") {
      forgetSeat(table);
      showNotice("You are no longer seated: watching.", "info");
    } else {
      showGone();
    }
  });
  connection.start();
}

function showName(name) {
  setText("#title", name);
  document.title = `pokerd · ${name}`;
  // The turn alert flashes the title and puts this one back.
  if (state.alert) state.alert.title = document.title;
}

async function main() {
  showName(`Table ${table}`); // until the view gives the table's own name
  state.alert = new TurnAlert({ button: $("#mute"), title: document.title });
  wireActions();
  wireKeyboard();
  wireSitDialog();
  wireCloseDialog();
  setInterval(tick, 250);
  state.live = await liveUrl();
  const seated = savedSeat(table);
  follow(seated ? seated.token : null);
}

main();
