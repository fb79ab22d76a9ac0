// Cards drawn with CSS: "Ah" -> a white card with a red A and a heart.

const SUITS = { s: "♠", h: "♥", d: "♦", c: "♣" };
const RANKS = { T: "10" };

export function card(code) {
  const element = document.createElement("div");
  const suit = code[1];
  element.className = `card face ${suit === "h" || suit === "d" ? "red" : "black"}`;
  element.dataset.card = code;
  const rank = RANKS[code[0]] ?? code[0];
  element.innerHTML = `<span class="rank">${rank}</span><span class="suit">${SUITS[suit] ?? "?"}</span>`;
  element.title = code;
  return element;
}

export function cardBack() {
  const element = document.createElement("div");
  element.className = "card back";
  return element;
}

export function cardText(code) {
  return `${RANKS[code[0]] ?? code[0]}${SUITS[code[1]] ?? "?"}`;
}
