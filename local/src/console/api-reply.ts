/** Reading a reply of the ingest API, the local stack's or a deployed stage's: one parse, one error line. */

/** A reply of the ingest API. */
export interface ApiReply<T> {
  status: number;
  body: T;
}

/**
 * Reads a reply's body: its JSON (null for an empty body), or its text when it is not JSON. A non-2xx reply throws
 * what `failure` makes of the first line of the API's message (`message`, or API Gateway's own `Message`, else the
 * text); the API's messages name claim ids and field paths, never values.
 */
export async function readApiReply<T>(response: Response, failure: (message: string) => Error): Promise<ApiReply<T>> {
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const { message, Message } = (parsed ?? {}) as { message?: unknown; Message?: unknown };
    throw failure(String(message ?? Message ?? text).split('\n')[0] ?? '');
  }
  return { status: response.status, body: parsed as T };
}
