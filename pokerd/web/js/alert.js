// "Your turn": a short chime (made with WebAudio, no file to fetch) and a
// flashing title, with a mute toggle this browser remembers.

const MUTED_KEY = "pokerd.muted";
const FLASH_MS = 1000;

export class TurnAlert {
  constructor({ button, title }) {
    this.button = button;
    this.title = title;
    this.flashing = null;
    this.audio = null;
    this.chimes = 0; // chimes played (or that would have been, unmuted)
    this.muted = localStorage.getItem(MUTED_KEY) === "1";
    this.showMuted();
    button.addEventListener("click", () => {
      this.muted = !this.muted;
      localStorage.setItem(MUTED_KEY, this.muted ? "1" : "0");
      this.showMuted();
    });
    // Browsers let a page make sound only after a gesture: get ready on the first.
    const unlock = () => {
      this.context();
      document.removeEventListener("pointerdown", unlock);
      document.removeEventListener("keydown", unlock);
    };
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  showMuted() {
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.textContent = this.muted ? "Sound off" : "Sound on";
    this.button.setAttribute("aria-label", this.muted ? "Sound off (turn alert muted)" : "Sound on (turn alert)");
  }

  context() {
    if (this.audio === null && typeof AudioContext === "function") {
      try {
        this.audio = new AudioContext();
      } catch (failure) {
        this.audio = null;
      }
    }
    return this.audio;
  }

  start() {
    this.stop();
    if (!this.muted) this.chime();
    let on = true;
    document.title = `▶ Your turn · ${this.title}`;
    this.flashing = setInterval(() => {
      on = !on;
      document.title = on ? `▶ Your turn · ${this.title}` : this.title;
    }, FLASH_MS);
  }

  stop() {
    if (this.flashing !== null) clearInterval(this.flashing);
    this.flashing = null;
    document.title = this.title;
  }

  chime() {
    this.chimes += 1;
    const audio = this.audio; // only once a gesture made it: no warning otherwise
    if (audio === null || audio.state !== "running") return;
    const now = audio.currentTime;
    for (const [offset, pitch] of [[0, 660], [0.12, 880]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = pitch;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + offset);
      tone.stop(now + offset + 0.3);
    }
  }
}
