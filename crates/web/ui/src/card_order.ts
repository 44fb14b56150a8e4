// A kanban ordered by hand keeps each card's place in a number field (the view's `order_field`): the
// server sorts a column by it (empty places first), then by the view's Sort. A card put somewhere new
// gets a value between its neighbours', so one write moves one card; only when no value fits (two
// neighbours one step apart, or a neighbour below without a place) the column is numbered again in
// steps of 100, writing just the cards whose value changes.

/** Steps between cards when a column is numbered again, in whole units of the field. */
const STEP = 100;

/** A place as a count of the field's smallest step (10^-precision); `null` for none. */
function units(text: string, scale: number): number | null {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? Math.round(value * scale) : null;
}

function written(count: number, precision: number): string {
  return (count / 10 ** precision).toFixed(precision);
}

/**
 * The values to write so that the cards of a column, whose places are `ranks` in their new order (the
 * moved card at `at`), keep that order: card index → value. Empty when nothing has to change.
 */
export function placesFor(ranks: string[], at: number, precision: number): Map<number, string> {
  const scale = 10 ** precision;
  const step = STEP * scale;
  const places = ranks.map((rank) => units(rank, scale));
  const own = places[at] ?? null;
  const hasPrevious = at > 0;
  const hasNext = at < places.length - 1;
  const previous = hasPrevious ? places[at - 1] : null;
  const next = hasNext ? places[at + 1] : null;
  const alone = (value: number) => (value === own ? new Map<number, string>() : new Map([[at, written(value, precision)]]));
  // Empty places sort first: below one with a place, or at the bottom, any value sorts after them.
  const afterPrevious = (value: number) => previous === null || value > previous;
  const beforeNext = (value: number) => !hasNext || (next !== null && value < next);
  // Already in order where it stands (say, a card moved to the right place of another column).
  if (own !== null && afterPrevious(own) && beforeNext(own)) return new Map();
  if (!hasNext) {
    if (!hasPrevious) return new Map();
    return alone(previous === null ? (own ?? step) : previous + step);
  }
  if (next !== null) {
    if (!hasPrevious || previous === null) return alone(next - step);
    if (next - previous >= 2) return alone(Math.floor((previous + next) / 2));
  }
  // Nothing fits: number the column again.
  const all = new Map<number, string>();
  places.forEach((place, i) => {
    const value = (i + 1) * step;
    if (place !== value) all.set(i, written(value, precision));
  });
  return all;
}
