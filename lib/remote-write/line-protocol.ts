// Line-protocol escaping, exactly the official client's: `escape.measurement` and `escape.tag` are
// the functions Point.toLineProtocol calls; a string with none of the characters they escape is
// passed as is (they would return it unchanged), which keeps the common case free of regex work.
import { escape } from "@influxdata/influxdb-client";

// Exactly the characters escape.tag / escape.measurement replace.
const TAG_SPECIAL = /[, =\n\r\t]/;
const MEASUREMENT_SPECIAL = /[, \n\r\t]/;

/** A tag key, tag value or field key. */
export const escapeTag = (text: string) => (TAG_SPECIAL.test(text) ? escape.tag(text) : text);
export const escapeMeasurement = (text: string) => (MEASUREMENT_SPECIAL.test(text) ? escape.measurement(text) : text);
/** A string field value, quotes included. */
export const quoted = (text: string) => escape.quoted(text);

/** `measurement,key=value,...`, escaped as Point escapes them; `tags` flat [key, value, ...], sorted by key. */
export function lineStart(measurement: string, tags: readonly string[]): string {
  let line = escapeMeasurement(measurement);
  for (let i = 0; i < tags.length; i += 2) line += `,${escapeTag(tags[i]!)}=${escapeTag(tags[i + 1]!)}`;
  return line;
}
