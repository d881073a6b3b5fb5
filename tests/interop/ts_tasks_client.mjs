// Run makePhoneCall as an MCP task (2025-11-25) with the official MCP TypeScript SDK's experimental tasks
// client, over Streamable HTTP with a bearer token.
//
// It connects (initialize), lists tools, streams a task-augmented makePhoneCall to its end
// (client.experimental.tasks.callToolStream polls tasks/get, then fetches tasks/result), lists tasks,
// then starts a second call as a task and cancels it (tasks/cancel). Prints one JSON object on stdout:
//
//   {"sdk": "1.x.y", "capabilities": {...}, "tool": {...}, "messages": [...], "result": {...},
//    "listed": [...], "cancelled": {...}, "afterCancel": {...}}
//
// Usage: CALLMCP_TOKEN=<jwt> CALLMCP_TS_SDK=<dir of @modelcontextprotocol/sdk> node ts_tasks_client.mjs URL NUMBER
// Exit status 0 on success; any failure throws (stack on stderr, non-zero exit).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdkDir = process.env.CALLMCP_TS_SDK;
const load = (file) => import(pathToFileURL(join(sdkDir, "dist", "esm", file)).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
const sdkVersion = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).version;

const [url, number] = process.argv.slice(2);
const timer = setTimeout(() => { console.error("timed out"); process.exit(3); }, 50000);
const client = new Client({ name: "callmcp-ts-tasks", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${process.env.CALLMCP_TOKEN}` } },
});
await client.connect(transport);
const tools = await client.listTools();
const call = { name: "makePhoneCall", arguments: { phone_number: number, task: "Confirm the booking.", max_duration: 3 } };

const messages = [];
let result = null;
for await (const message of client.experimental.tasks.callToolStream(call, undefined, { task: { ttl: 600000 } })) {
  messages.push({ type: message.type, status: message.task?.status, taskId: message.task?.taskId });
  if (message.type === "result") result = message.result;
  if (message.type === "error") throw message.error;
}
const listed = (await client.experimental.tasks.listTasks()).tasks;

let cancelled = null;
let afterCancel = null;
for await (const message of client.experimental.tasks.callToolStream(call, undefined, { task: { ttl: 600000 } })) {
  if (message.type === "taskCreated") {
    cancelled = await client.experimental.tasks.cancelTask(message.task.taskId);
    afterCancel = await client.experimental.tasks.getTask(message.task.taskId);
    break;
  }
}
await client.close();
clearTimeout(timer);
console.log(JSON.stringify({
  sdk: sdkVersion, capabilities: client.getServerCapabilities(),
  tool: tools.tools.find((tool) => tool.name === "makePhoneCall"), messages, result, listed, cancelled, afterCancel,
}));
