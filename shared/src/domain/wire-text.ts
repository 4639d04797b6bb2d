/**
 * The fast path's writer: the JSON text of a claim image written straight from its DynamoDB JSON (as `JSON.parse`
 * gave it), without building the plain object first. It writes the plain value's JSON text as the row carries it
 * inside a string (the `rawImage` and JSON columns): `JSON.stringify(JSON.stringify(plain))` without its outer
 * quotes, with {@link writeInnerItem} and {@link writeInnerValue}.
 *
 * That is exactly what `JSON.stringify` prints for the reference row, for the fast path's subset (canonical numbers,
 * no binary): escaping string by string gives the same text as escaping the whole, because `JSON.stringify` output
 * has no control character and no lone surrogate to split. When the record's text has no backslash ("clean"), no
 * string in it has anything to escape (a quote or control character would need a backslash, and UTF-8 decoding never
 * makes a lone surrogate), so strings are only wrapped in (escaped) quotes. Building the plain object, then
 * `JSON.stringify` of it and of the result, cost 10 µs per record on the bench's records; this costs about 6.
 */
/** A JSON object as `JSON.parse` gives it. */
export type Plain = Record<string, unknown>;

/** True for a non-null, non-array object. */
export const isObject = (value: unknown): value is Plain => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The only key of an attribute value, or undefined when it has none or several. */
export const onlyKey = (value: Plain): string | undefined => {
  let type: string | undefined;
  for (const key in value) {
    if (type !== undefined) return undefined;
    type = key;
  }
  return type;
};

// A canonical decimal: no sign but '-', no leading zeros, no trailing fractional zeros, no exponent.
const CANONICAL_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

/**
 * True when `text` is a DynamoDB number the fast path takes: canonical, and printed back by `String(Number(text))`.
 *
 * Short numbers skip the round trip (it cost 2.1 of the stage's 38 µs per record): a canonical text of at most 15
 * characters has at most 15 significant digits, which a double keeps exactly (DBL_DIG), so the shortest decimal that
 * `String` prints for it is that same value; and it prints it in plain notation, as the text is, between 1e-6 and
 * 1e21 (so texts with six zeros after the point, and "-0", which prints as "0", take the round trip).
 */
export const isCanonicalNumber = (text: string): boolean => {
  if (!CANONICAL_NUMBER.test(text)) return false;
  if (text.length <= 15 && text !== '-0' && !text.includes('.000000')) return true;
  return String(Number(text)) === text;
};

/** True when a wire N value is a number text the fast path takes (see {@link isCanonicalNumber}). */
export const isCanonicalNumberText = (text: unknown): text is string => typeof text === 'string' && isCanonicalNumber(text);

/**
 * The pieces of the text being written, joined once at the end (see {@link writeInnerItem}). One instance is reused
 * row after row: its array keeps its length, so pieces are stored over the last row's instead of the array being
 * emptied and grown again through a dozen copies per row.
 */
export class TextParts {
  private readonly pieces: string[] = [];
  private count = 0;

  /** Appends one to three pieces. */
  add(a: string, b?: string, c?: string): void {
    const pieces = this.pieces;
    pieces[this.count++] = a;
    if (b !== undefined) pieces[this.count++] = b;
    if (c !== undefined) pieces[this.count++] = c;
  }

  /** Forgets the pieces added so far. */
  reset(): void {
    this.count = 0;
  }

  /** The pieces added since the last reset, joined; the parts are then reset. */
  text(): string {
    const pieces = this.pieces;
    if (pieces.length !== this.count) pieces.length = this.count;
    this.count = 0;
    return pieces.join('');
  }
}

/** Appends a string as it appears inside the JSON text the row carries as a string: `JSON.stringify(JSON.stringify(s))` without its outer quotes. */
const pushInnerString = (out: TextParts, s: string, clean: boolean): void => {
  if (clean) out.add('\\"', s, '\\"');
  else out.add(JSON.stringify(JSON.stringify(s)).slice(1, -1));
};

const pushList = (out: TextParts, items: unknown, clean: boolean, node: KeyNode): boolean => {
  if (!Array.isArray(items)) return false;
  out.add('[');
  for (let i = 0; i < items.length; i += 1) {
    if (i !== 0) out.add(',');
    if (!writeInnerValue(out, items[i], clean, node)) return false;
  }
  out.add(']');
  return true;
};

const pushStringSet = (out: TextParts, items: unknown, clean: boolean): boolean => {
  if (!Array.isArray(items) || items.length === 0) return false;
  out.add('[');
  for (let i = 0; i < items.length; i += 1) {
    const s: unknown = items[i];
    if (typeof s !== 'string') return false;
    if (i !== 0) out.add(',');
    pushInnerString(out, s, clean);
  }
  out.add(']');
  return true;
};

const pushNumberSet = (out: TextParts, items: unknown): boolean => {
  if (!Array.isArray(items) || items.length === 0) return false;
  out.add('[');
  for (let i = 0; i < items.length; i += 1) {
    const n: unknown = items[i];
    if (!isCanonicalNumberText(n)) return false;
    if (i !== 0) out.add(',');
    out.add(n);
  }
  out.add(']');
  return true;
};

/**
 * Appends one attribute value's plain JSON text, escaped as the row carries it inside a string (S → string, N → its
 * canonical digits, M → object, L/SS/NS → array, BOOL, NULL → null). False (and `out` left part-written) for B and BS
 * (the reference writes their base64 text) and anything malformed: the record is then deferred.
 */
export const writeInnerValue = (out: TextParts, value: unknown, clean: boolean, node: KeyNode): boolean => {
  if (!isObject(value)) return false;
  const type = onlyKey(value);
  const v = type === undefined ? undefined : value[type];
  switch (type) {
    case 'S':
      if (typeof v !== 'string') return false;
      pushInnerString(out, v, clean);
      return true;
    case 'N':
      if (!isCanonicalNumberText(v)) return false;
      out.add(v);
      return true;
    case 'M':
      return writeInnerItem(out, v, clean, node);
    case 'L':
      return pushList(out, v, clean, node);
    case 'BOOL':
      if (typeof v !== 'boolean') return false;
      out.add(v ? 'true' : 'false');
      return true;
    case 'NULL':
      if (v !== true) return false;
      out.add('null');
      return true;
    case 'SS':
      return pushStringSet(out, v, clean);
    case 'NS':
      return pushNumberSet(out, v);
    default:
      return false;
  }
};

/**
 * The pieces a key of a clean text is written with: opening its map (`first`), after a comma (`next`) or after an S's
 * text still to be closed (`afterText`); the `…Text` forms also open the S text that follows.
 */
interface KeyPieces {
  readonly first: string;
  readonly next: string;
  readonly afterText: string;
  readonly firstText: string;
  readonly nextText: string;
  readonly afterTextText: string;
}

// Keys repeat from record to record (a table has few attribute names): their pieces are built once. Bounded, so odd
// records cannot grow it without limit; past the bound pieces are built each time.
const KEY_PIECES = new Map<string, KeyPieces>();
const MAX_CACHED_KEYS = 4_096;

/** The pieces of a key from a clean text (which therefore needs no escaping). */
const keyPieces = (key: string): KeyPieces => {
  let pieces = KEY_PIECES.get(key);
  if (pieces === undefined) {
    const k = `\\"${key}\\":`;
    pieces = { first: `{${k}`, next: `,${k}`, afterText: `\\",${k}`, firstText: `{${k}\\"`, nextText: `,${k}\\"`, afterTextText: `\\",${k}\\"` };
    if (KEY_PIECES.size < MAX_CACHED_KEYS) KEY_PIECES.set(key, pieces);
  }
  return pieces;
};

/**
 * Where a writer finds a key's pieces: the keys met at each position of the last item written under it, each with the
 * keys met inside its own value. Items of one table share their shape, so the key at a position is nearly always the
 * one met there last time, found with one comparison (the map lookup it saves cost about 1 µs per record).
 */
export interface KeyNode {
  readonly key: string;
  readonly pieces: KeyPieces | undefined;
  readonly children: KeyNode[];
}

/** A fresh root for {@link writeInnerItem} and {@link writeInnerValue}: one per place an item or value is written from. */
export const keyRoot = (): KeyNode => ({ key: '', pieces: undefined, children: [] });

// Positions past this are looked up in the map each time, so an item of odd width cannot grow a node without limit.
const MAX_NODE_WIDTH = 64;

const childAt = (node: KeyNode, index: number, key: string): KeyNode => {
  const known = node.children[index];
  if (known !== undefined && known.key === key) return known;
  const child: KeyNode = { key, pieces: keyPieces(key), children: [] };
  if (index < MAX_NODE_WIDTH) node.children[index] = child;
  return child;
};

/** The string of an S attribute, or undefined for anything else. */
const stringAttribute = (value: unknown): string | undefined => {
  if (!isObject(value)) return undefined;
  const s = value.S;
  return typeof s === 'string' && onlyKey(value) === 'S' ? s : undefined;
};

/**
 * {@link writeInnerItem} for a clean text, in as few pieces as it can: an S attribute takes two (its key with the
 * text's opening quote, and the text; the closing quote goes with what follows), where writing each part alone took six.
 */
const writeCleanItem = (out: TextParts, map: Plain, node: KeyNode): boolean => {
  let index = 0;
  let open = false;
  for (const key in map) {
    if (key === '__proto__') return false;
    const child = childAt(node, index, key);
    const pieces = child.pieces as KeyPieces;
    const value = map[key];
    const text = stringAttribute(value);
    if (text !== undefined) {
      out.add(index === 0 ? pieces.firstText : open ? pieces.afterTextText : pieces.nextText, text);
      open = true;
    } else {
      out.add(index === 0 ? pieces.first : open ? pieces.afterText : pieces.next);
      open = false;
      if (!writeInnerValue(out, value, true, child)) return false;
    }
    index += 1;
  }
  out.add(index === 0 ? '{}' : open ? '\\"}' : '}');
  return true;
};

/**
 * Appends a map of attribute values (an item, or an M) as its plain object's JSON text, escaped as the row carries it
 * inside a string, keys in the order `JSON.stringify` of the plain object prints them (the wire object's own order).
 * `__proto__` is deferred: the reference path's plain object would not hold it as a key.
 *
 * The text goes into an array joined once per row because it is written in a few hundred small pieces:
 * concatenating them made a rope of as many nodes, and flattening it when the rows were packed cost more than the
 * pieces (the stage measured 58-61 µs per record on a loaded machine against 44 for the pieces alone). Fewer pieces
 * are cheaper still: joining costs about 14 ns a piece here.
 */
export const writeInnerItem = (out: TextParts, map: unknown, clean: boolean, node: KeyNode): boolean => {
  if (!isObject(map)) return false;
  if (clean) return writeCleanItem(out, map, node);
  out.add('{');
  let first = true;
  for (const key in map) {
    if (key === '__proto__') return false;
    if (!first) out.add(',');
    pushInnerString(out, key, clean);
    out.add(':');
    first = false;
    if (!writeInnerValue(out, map[key], clean, node)) return false;
  }
  out.add('}');
  return true;
};

/** The attribute at a path of map keys (`['patient', 'zip']`) of a wire item, or undefined when absent. */
export const wireAttributeAt = (item: Plain, path: readonly string[]): Plain | undefined => {
  let map: Plain = item;
  const last = path.length - 1;
  for (let i = 0; i < last; i += 1) {
    const attribute = map[path[i] as string];
    if (!isObject(attribute) || !isObject(attribute.M)) return undefined;
    map = attribute.M;
  }
  const attribute = map[path[last] as string];
  return isObject(attribute) ? attribute : undefined;
};
