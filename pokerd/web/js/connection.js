// One viewer's connection to one table: the live WebSocket, else HTTP long polls.
//
// The model is pokerd/client/: keep the table's epoch and the offset (the
// last seq received); after any drop, reconnect with backoff and full jitter
// and resume from the offset; while the socket cannot be opened, long-poll
// GET /tables/{id}/events and post requests to /tables/{id}/requests, trying
// the socket again in the background and going back to it once it opens.
// Every request not yet answered is sent again with its id after a
// reconnect: the server applies an id once and answers it again.

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5000;
const WELCOME_TIMEOUT_MS = 5000;
const PING_EVERY_MS = 5000;
// No message (not even the pong) for this long: the socket is dead.
const SILENCE_MS = 12000;
const POLL_WAIT_S = 10;
const RETRY_PAUSE_MS = 150;

// The protocol's codes this page acts on, copied from pokerd/wire/protocol.py
// (CloseCode, ErrorCode, RETRY_CODES, TABLE_GONE_CODES); tests/test_codes.py
// checks each copy. After any other close code the page reconnects and
// resumes; any other error is shown.
const SEAT_LOST = 4003;
const TABLE_GONE = 4004;
const ABNORMAL_CLOSURE = 1006;
const BAD_TOKEN = "bad_token";
const RETRY_CODES = new Set(["rate_limited", "table_restarting", "table_moving"]);
const TABLE_GONE_CODES = new Set(["no_such_table", "table_stopped"]);

export class Backoff {
  constructor(base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS) {
    this.base = base;
    this.cap = cap;
    this.attempts = 0;
  }
  next() {
    const bound = Math.min(this.cap, this.base * 2 ** Math.min(this.attempts, 30));
    this.attempts += 1;
    return Math.random() * bound;
  }
  reset() {
    this.attempts = 0;
  }
}

// Events dispatched: "mode" (detail: mode), "event" (detail: {seq, event}),
// "view" (detail: view), "snapshot", "notice" (detail: error message),
// "seat" (detail: seat or null), "ended" (detail: "seat_lost" | "table_gone" |
// "table_closed").
export class TableConnection extends EventTarget {
  constructor({ table, token = null, liveUrl, httpBase = "" }) {
    super();
    this.table = table;
    this.token = token;
    this.liveUrl = liveUrl;
    this.httpBase = httpBase;
    this.epoch = null;
    this.offset = 0;
    this.view = null;
    this.seat = null;
    this.mode = "connecting";
    this.everConnected = false;
    this.pending = new Map(); // id -> {message, resolve, sentBy}
    this.ids = 0;
    this.idPrefix = Math.random().toString(16).slice(2, 10);
    this.backoff = new Backoff();
    this.session = 0; // bumped by every socket attempt and every polling run
    this.ws = null;
    this.live = false; // welcomed on the current socket
    this.polling = null; // {abort: AbortController, session} while polling
    this.stopped = false;
    this.timers = new Set();
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.stopPolling();
    if (this.ws) this.dropSocket(1000);
    this.setMode("closed");
  }

  // Requests

  request(message) {
    this.ids += 1;
    const id = `${this.idPrefix}-${this.ids}`;
    const full = { ...message, id };
    return new Promise((resolve) => {
      this.pending.set(id, { message: full, resolve, sentBy: null });
      this.flush();
    });
  }

  act(action, amount = null) {
    return this.request({ type: "act", action, amount });
  }

  flush() {
    for (const [id, pending] of this.pending) {
      if (pending.sentBy === this.session) continue;
      if (this.live && this.ws) {
        pending.sentBy = this.session;
        this.ws.send(JSON.stringify(pending.message));
      } else if (this.polling) {
        pending.sentBy = this.session;
        this.post(id, pending, this.session);
      }
    }
  }

  async post(id, pending, session) {
    let answer;
    try {
      const response = await fetch(`${this.httpBase}/tables/${this.table}/requests`, {
        method: "POST",
        headers: this.headers({ "Content-Type": "application/json" }),
        body: JSON.stringify(pending.message),
      });
      answer = await response.json();
    } catch (failure) {
      // Unknown whether it was applied: the same id again is safe.
      if (pending.sentBy === session) pending.sentBy = null;
      this.later(() => this.flush(), RETRY_PAUSE_MS * 4);
      return;
    }
    if (answer.type === "error" && answer.id == null) answer.id = id;
    this.answered(answer);
  }

  answered(answer) {
    const pending = this.pending.get(answer.id);
    if (!pending) return;
    if (answer.type === "error" && RETRY_CODES.has(answer.code)) {
      pending.sentBy = null;
      this.later(() => this.flush(), RETRY_PAUSE_MS);
      return;
    }
    this.pending.delete(answer.id);
    pending.resolve(answer);
  }

  // The live stream

  connect() {
    if (this.stopped) return;
    this.session += 1;
    const session = this.session;
    let ws;
    try {
      ws = new WebSocket(`${this.liveUrl}/tables/${this.table}/live`);
    } catch (failure) {
      this.socketFailed(session);
      return;
    }
    this.ws = ws;
    this.live = false;
    let welcomed = false;
    let lastHeard = Date.now();
    const welcomeTimer = this.later(() => {
      if (!welcomed && this.ws === ws) this.dropSocket(4000, session, false);
    }, WELCOME_TIMEOUT_MS);
    const pinger = setInterval(() => {
      if (this.ws !== ws || !welcomed) return;
      if (Date.now() - lastHeard > SILENCE_MS) {
        this.dropSocket(4000, session, true);
        return;
      }
      ws.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
    ws.onopen = () => {
      // Stop polling before the hello names the offset: nothing from a poll
      // may be applied after it.
      this.stopPolling();
      const resume = this.epoch === null ? null : { epoch: this.epoch, offset: this.offset };
      ws.send(JSON.stringify({ type: "hello", token: this.token, resume }));
    };
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
      lastHeard = Date.now();
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (failure) {
        return;
      }
      if (!welcomed) {
        if (data.type === "welcome") {
          welcomed = true;
          clearTimeout(welcomeTimer);
          this.welcome(data);
          return;
        }
        if (data.type === "error") {
          if (data.code === BAD_TOKEN) {
            // The seat is gone (left, or another server's token): watch instead.
            this.loseSeat();
            ws.send(JSON.stringify({ type: "hello", token: null, resume: null }));
            this.epoch = null;
            return;
          }
          // A table moving between nodes is a pause, not news: the close
          // (4006) that follows brings the reconnection, with its backoff.
          if (!RETRY_CODES.has(data.code)) this.notice(data);
          if (TABLE_GONE_CODES.has(data.code)) this.end("table_gone");
          return;
        }
        return;
      }
      this.onLive(data);
    };
    ws.onclose = (closed) => {
      clearInterval(pinger);
      clearTimeout(welcomeTimer);
      if (this.ws !== ws) return;
      this.socketEnded(session, closed.code, welcomed);
    };
  }

  welcome(welcome) {
    this.backoff.reset();
    this.epoch = welcome.epoch;
    this.live = true;
    this.everConnected = true;
    this.setSeat(welcome.seat);
    if (!welcome.recovered) this.offset = welcome.seq;
    this.setMode("live");
    this.flush();
  }

  onLive(data) {
    switch (data.type) {
      case "event":
        this.applyEvent(data);
        break;
      case "snapshot":
        this.applySnapshot(data.seq, data.view);
        break;
      case "ack":
        this.answered(data);
        break;
      case "error":
        if (data.id != null && this.pending.has(data.id)) this.answered(data);
        else this.notice(data);
        break;
      default:
        break;
    }
  }

  // A socket that never reached the welcome: fall back to polling.
  socketFailed(session) {
    this.ws = null;
    this.live = false;
    if (this.stopped || session !== this.session) return;
    if (!this.polling) this.startPolling();
    this.later(() => {
      if (!this.stopped && !this.live && this.ws === null) this.connect();
    }, this.backoff.next());
  }

  socketEnded(session, code, welcomed) {
    this.ws = null;
    this.live = false;
    if (this.stopped) return;
    if (code === TABLE_GONE) {
      this.end("table_gone");
      return;
    }
    if (code === SEAT_LOST) {
      this.loseSeat();
      this.epoch = null;
    }
    if (!welcomed) {
      this.socketFailed(session);
      return;
    }
    this.setMode("reconnecting");
    this.later(() => this.connect(), this.backoff.next());
  }

  // Cut the socket now, without waiting for a closing handshake a dead
  // network would never finish.
  dropSocket(code, session = this.session, welcomed = true) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.live = false;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(code === 1000 ? 1000 : 4000);
    } catch (failure) {
      // already closing
    }
    if (!this.stopped) this.socketEnded(session, ABNORMAL_CLOSURE, welcomed);
  }

  // Polling

  startPolling() {
    this.session += 1;
    const session = this.session;
    const abort = new AbortController();
    this.polling = { abort, session };
    this.pollLoop(session, abort.signal);
    this.flush();
  }

  stopPolling() {
    if (!this.polling) return;
    this.polling.abort.abort();
    this.polling = null;
  }

  async pollLoop(session, signal) {
    const backoff = new Backoff();
    let caughtUp = false;
    while (this.polling && this.polling.session === session && !this.stopped) {
      let page;
      try {
        if (this.epoch === null) {
          const response = await fetch(`${this.httpBase}/tables/${this.table}`, {
            headers: this.headers(),
            signal,
          });
          const view = await response.json();
          if (!response.ok) throw new HttpFailure(response.status, view);
          const { epoch, seq, ...rest } = view;
          page = { epoch, seq, recovered: false, view: rest };
        } else {
          const wait = caughtUp ? POLL_WAIT_S : 0;
          const query = `after=${this.offset}&wait=${wait}&epoch=${encodeURIComponent(this.epoch)}`;
          const response = await fetch(
            `${this.httpBase}/tables/${this.table}/events?${query}`,
            { headers: this.headers(), signal },
          );
          page = await response.json();
          if (!response.ok) throw new HttpFailure(response.status, page);
        }
      } catch (failure) {
        if (!this.polling || this.polling.session !== session) return;
        if (failure instanceof HttpFailure) {
          if (failure.status === 404) {
            this.end("table_gone");
            return;
          }
          if (failure.status === 401) {
            this.loseSeat();
            this.epoch = null;
            continue;
          }
        }
        this.setMode("reconnecting");
        await sleep(backoff.next());
        continue;
      }
      if (!this.polling || this.polling.session !== session) return;
      backoff.reset();
      this.everConnected = true;
      this.epoch = page.epoch;
      if (!page.recovered) {
        this.applySnapshot(page.seq, page.view);
        caughtUp = true;
      } else {
        let last = null;
        for (const message of page.events) {
          this.applyEvent(message);
          last = message;
        }
        caughtUp = last === null || last.view != null;
      }
      this.setMode("polling");
    }
  }

  // Folding what was received

  applyEvent(message) {
    if (message.seq <= this.offset) return; // a repeat: already applied
    this.offset = message.seq;
    this.emit("event", { seq: message.seq, event: message.event });
    if (message.view != null) this.setView(message.view);
  }

  applySnapshot(seq, view) {
    this.offset = seq;
    this.emit("snapshot", { seq });
    this.setView(view);
  }

  setView(view) {
    this.view = view;
    this.setSeat(view.viewer);
    this.emit("view", view);
    // Nothing follows a closed table: stop here (a long poll of it answers
    // at once, so polling on would only spin; the socket gets 4004).
    if (view.closed && !this.stopped) this.end("table_closed");
  }

  setSeat(seat) {
    if (seat !== this.seat) {
      this.seat = seat;
      this.emit("seat", seat);
    }
  }

  loseSeat() {
    this.token = null;
    for (const [id, pending] of this.pending) {
      pending.resolve({ type: "error", id, code: BAD_TOKEN, message: "you no longer hold a seat here" });
    }
    this.pending.clear();
    this.setSeat(null);
    this.emit("ended", "seat_lost");
  }

  end(why) {
    this.emit("ended", why);
    this.stop();
  }

  notice(error) {
    this.emit("notice", error);
  }

  setMode(mode) {
    if (this.mode !== mode) {
      this.mode = mode;
      this.emit("mode", mode);
    }
  }

  headers(extra = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  later(callback, delayMs) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, delayMs);
    this.timers.add(timer);
    return timer;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

class HttpFailure extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
