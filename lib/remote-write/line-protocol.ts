// Line-protocol escaping, exactly the official client's: `escape.measurement` and `escape.tag` are
// the functions Point.toLineProtocol calls; a string with none of the characters they escape is
// passed as is (they would return it unchanged), which keeps the common case free of regex work.
import { escape } from "@influxdata/influxdb-client";

/** Does `text` hold a character escape.tag (`, = \n \r \t`) or escape.measurement (no `=`) replaces? */
function special(text: string, withEquals: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // all of them are below '>' (62): one compare rules out letters and most digits
    if (c < 62 && (c === 44 || c === 32 || c === 10 || c === 13 || c === 9 || (withEquals && c === 61))) return true;
  }
  return false;
}

/** A tag key, tag value or field key. */
export const escapeTag = (text: string) => (special(text, true) ? escape.tag(text) : text);
const escapeMeasurement = (text: string) => (special(text, false) ? escape.measurement(text) : text);
/** A string field value, quotes included. */
export const quoted = (text: string) => escape.quoted(text);

const encoder = new TextEncoder();

/** Keys InfluxDB (2.x) rejects or reserves as tag keys: labels with these names are renamed. */
export const RESERVED_TAG_KEYS: readonly string[] = ["time", "_measurement", "_field"];

/**
 * A string as UTF-8 bytes. Line prefixes are nearly always ASCII, copied by a plain loop: much
 * cheaper than TextEncoder for strings this short (measured: most of a new series' conversion).
 */
export function utf8Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(text);
    bytes[i] = c;
  }
  return bytes;
}

/** `measurement,key=value,...`, escaped as Point escapes them; `tags` flat [key, value, ...], sorted by key. */
export function lineStart(measurement: string, tags: readonly string[]): string {
  let line = escapeMeasurement(measurement);
  for (let i = 0; i < tags.length; i += 2) line += `,${escapeTag(tags[i]!)}=${escapeTag(tags[i + 1]!)}`;
  return line;
}
