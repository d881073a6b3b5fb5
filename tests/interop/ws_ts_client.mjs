// Drive callmcp's WebSocket transport with the official MCP TypeScript SDK's WebSocketClientTransport.
//
// The transport offers the subprotocol "mcp" and cannot send headers (it is the browser WebSocket API),
// so the bearer token travels as ?access_token=. It connects (initialize), lists tools, calls test_echo
// with the given text, calls test_slow with a progress callback, reads test://hello and pings, then
// prints one JSON object on stdout:
//
//   {"sdk": "1.x.y", "server": {...}, "capabilities": {...}, "tools": [...], "echo": {...},
//    "slow": {...}, "progress": [...], "hello": {...}}
//
// Usage: CALLMCP_TOKEN=<jwt> CALLMCP_TS_SDK=<dir of @modelcontextprotocol/sdk> node ws_ts_client.mjs URL TEXT
// Exit status 0 on success; any failure throws (stack on stderr, non-zero exit).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdkDir = process.env.CALLMCP_TS_SDK;
const load = (file) => import(pathToFileURL(join(sdkDir, "dist", "esm", file)).href);
const { Client } = await load("client/index.js");
const { WebSocketClientTransport } = await load("client/websocket.js");
const sdkVersion = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).version;

const [url, text] = process.argv.slice(2);
const timer = setTimeout(() => { console.error("timed out"); process.exit(3); }, 20000);
const client = new Client({ name: "callmcp-ts-interop", version: "1.0.0" });
const transport = new WebSocketClientTransport(
  new URL(`${url}?access_token=${encodeURIComponent(process.env.CALLMCP_TOKEN)}`));
await client.connect(transport);
const tools = await client.listTools();
const echo = await client.callTool({ name: "test_echo", arguments: { text } });
const progress = [];
const slow = await client.callTool({ name: "test_slow", arguments: { steps: 4 } }, undefined,
  { onprogress: (p) => progress.push(p) });
const hello = await client.readResource({ uri: "test://hello" });
await client.ping();
await client.close();
clearTimeout(timer);
console.log(JSON.stringify({
  sdk: sdkVersion, server: client.getServerVersion(), capabilities: client.getServerCapabilities(),
  tools: tools.tools, echo, slow, progress, hello,
}));
