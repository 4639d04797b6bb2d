/**
 * JSON compared exactly: a canonical text that sorts object keys (key order is not data) but keeps every number's
 * literal text. `JSON.parse` would round a 38-digit number to a double on both sides of a comparison and hide exactly
 * the loss the comparison is there to catch (Node 20 has no access to a number's source text in `JSON.parse`), so
 * this reads the text with its own small tokenizer.
 */

/** Invalid JSON text. The message names the offset, never the text. */
export class ExactJsonError extends Error {
  override readonly name = 'ExactJsonError';
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WHITESPACE = /[ \t\n\r]*/y;

class Reader {
  #at = 0;

  constructor(private readonly text: string) {}

  #skip(): void {
    WHITESPACE.lastIndex = this.#at;
    WHITESPACE.exec(this.text);
    this.#at = WHITESPACE.lastIndex;
  }

  #fail(what: string): never {
    throw new ExactJsonError(`invalid JSON at offset ${this.#at}: ${what}`);
  }

  #match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.#at;
    const m = pattern.exec(this.text);
    if (!m) return undefined;
    this.#at = pattern.lastIndex;
    return m[0];
  }

  #expect(char: string): void {
    this.#skip();
    if (this.text[this.#at] !== char) this.#fail(`expected '${char}'`);
    this.#at += 1;
  }

  /** One string token, decoded and re-encoded (so `"\u0041"` and `"A"` compare equal: same string). */
  #string(): { decoded: string; canonical: string } {
    const token = this.#match(STRING) ?? this.#fail('expected a string');
    const decoded = JSON.parse(token) as string;
    return { decoded, canonical: JSON.stringify(decoded) };
  }

  /** The canonical text of the value at the cursor. */
  value(): string {
    this.#skip();
    const c = this.text[this.#at];
    if (c === '{') {
      this.#at += 1;
      const members: { key: string; text: string }[] = [];
      this.#skip();
      if (this.text[this.#at] === '}') this.#at += 1;
      else {
        for (;;) {
          this.#skip();
          const key = this.#string();
          this.#expect(':');
          members.push({ key: key.decoded, text: `${key.canonical}:${this.value()}` });
          this.#skip();
          if (this.text[this.#at] === ',') this.#at += 1;
          else if (this.text[this.#at] === '}') {
            this.#at += 1;
            break;
          } else this.#fail("expected ',' or '}'");
        }
      }
      members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return `{${members.map((m) => m.text).join(',')}}`;
    }
    if (c === '[') {
      this.#at += 1;
      const items: string[] = [];
      this.#skip();
      if (this.text[this.#at] === ']') this.#at += 1;
      else {
        for (;;) {
          items.push(this.value());
          this.#skip();
          if (this.text[this.#at] === ',') this.#at += 1;
          else if (this.text[this.#at] === ']') {
            this.#at += 1;
            break;
          } else this.#fail("expected ',' or ']'");
        }
      }
      return `[${items.join(',')}]`;
    }
    if (c === '"') return this.#string().canonical;
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.#at)) {
        this.#at += literal.length;
        return literal;
      }
    }
    // A number keeps its literal text: 1.50 and 1.5 are different texts, and so are two 38-digit numbers that
    // the same double would stand for.
    return this.#match(NUMBER) ?? this.#fail('expected a value');
  }

  end(): void {
    this.#skip();
    if (this.#at !== this.text.length) this.#fail('text after the value');
  }
}

/**
 * The canonical text of a JSON document: no whitespace, object keys sorted, strings re-encoded the one way
 * `JSON.stringify` writes them, numbers exactly as written.
 * @throws ExactJsonError when the text is not JSON.
 */
export function canonicalJson(text: string): string {
  const reader = new Reader(text);
  const out = reader.value();
  reader.end();
  return out;
}
