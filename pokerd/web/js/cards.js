// Cards drawn with CSS: "Ah" -> a white card with a red A and a heart.

const SUITS = { s: "♠", h: "♥", d: "♦", c: "♣" };
const SUIT_NAMES = { s: "spades", h: "hearts", d: "diamonds", c: "clubs" };
const RANKS = { T: "10" };
const RANK_NAMES = {
  2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight",
  9: "Nine", T: "Ten", J: "Jack", Q: "Queen", K: "King", A: "Ace",
};

export function card(code) {
  const element = document.createElement("div");
  const suit = code[1];
  element.className = `card face ${suit === "h" || suit === "d" ? "red" : "black"}`;
  element.dataset.card = code;
  const rank = RANKS[code[0]] ?? code[0];
  element.innerHTML = `<span class="rank" aria-hidden="true">${rank}</span><span class="suit" aria-hidden="true">${SUITS[suit] ?? "?"}</span>`;
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", cardName(code));
  element.title = cardName(code);
  return element;
}

export function cardBack() {
  const element = document.createElement("div");
  element.className = "card back";
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", "face-down card");
  return element;
}

export function cardText(code) {
  return `${RANKS[code[0]] ?? code[0]}${SUITS[code[1]] ?? "?"}`;
}

// "Ah" -> "Ace of hearts", for screen readers.
export function cardName(code) {
  return `${RANK_NAMES[code[0]] ?? code[0]} of ${SUIT_NAMES[code[1]] ?? "?"}`;
}
