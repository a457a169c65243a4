// Reads JSON lines, each one JSON string, from stdin and writes, for each, one JSON line holding
// the string's GPT-2 token ids (tiktoken "gpt2" encoding, ordinary text: no special tokens).
// Used by TiktokenCrossCheckTest as a tokenizer independent of jtokkit.
import { createInterface } from "node:readline";
import { get_encoding } from "tiktoken";

const encoding = get_encoding("gpt2");
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.length === 0) continue;
  const text = JSON.parse(line);
  process.stdout.write(JSON.stringify(Array.from(encoding.encode_ordinary(text))) + "\n");
}
encoding.free();
