// Line protocol bodies as lines of text, for assertions.

/** The lines of a body the converter built (newline-terminated), as strings. */
export function linesOf(conversion: { body: Uint8Array }): string[] {
  const text = new TextDecoder().decode(conversion.body);
  return text === "" ? [] : text.slice(0, -1).split("\n");
}
