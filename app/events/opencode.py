"""OpenCode 1.18: a local plugin file, loaded through the config in `OPENCODE_CONFIG_CONTENT`.

The config adds one `file://` plugin (no npm install, no network) and, for a task with rules, a
`permission` setting (per tool, pattern -> allow/deny). OpenCode 1.18 merges `OPENCODE_CONFIG_CONTENT`
last, over the user's global config, their own `OPENCODE_CONFIG` file (which stays theirs: paneboard
never sets it) and the project's; a user's own `OPENCODE_CONFIG_CONTENT` (a JSON object) gets
paneboard's plugin added and the task's rules merged over its `permission`. Content that is not plain
JSON (comments) is left as it is, without paneboard's plugin or rules, and the user is told.
The plugin's `event` hook appends one line per status-moving bus event to the agent's events file,
in the shape `parse` gives (the plugin mirrors it in JavaScript; a test holds the two together).

A request a `permission` rule answers publishes no permission event in OpenCode 1.18: an allowed one
runs without a trace, and a denied one only fails its tool part with OpenCode's own message ("The
user has specified a rule which prevents you from using this specific tool call. Here are some of
the relevant rules [...]"). That failure is recorded as `RuleDenied`, with the rules it names.
"""

from __future__ import annotations

try:
    from ._shape import asks, event
except ImportError:          # loaded by path inside the recorder
    from _shape import asks, event

_PLUGIN = r"""// paneboard: records OpenCode's status events for one agent (written at its start; safe to delete).
// One export only: OpenCode calls every function this module exports as a plugin.
import { appendFileSync } from "node:fs";
const FILE = __EVENTS_FILE__;
const DENIED = "The user has specified a rule which prevents you from using this specific tool call.";
const rules = (err) => { try { return JSON.parse(err.slice(err.indexOf("[")) || "[]").map((r) => `${r.permission}(${r.pattern}): ${r.action}`).join(", "); } catch (_) { return ""; } };
const cut = (v) => { const s = typeof v === "string" ? v : (v == null ? "" : String(v)); return s.length > 400 ? s.slice(0, 399) + "\u2026" : s; };
const asks = (m) => { if (!m || typeof m !== "object") return ""; for (const k of ["command", "filePath", "file_path", "path", "url", "pattern", "description"]) { const v = m[k]; if (typeof v === "string" && v.trim()) return cut(v); } return ""; };
function normalise(e) {
  const p = (e && e.properties) || {};
  const sid = p.sessionID || (p.info && p.info.id) || (p.part && p.part.sessionID) || "";
  const line = (name, extra) => { const out = { event: name, cli: "opencode" }; if (/^[A-Za-z0-9][A-Za-z0-9_-]{5,127}$/.test(sid)) out.session_id = sid; for (const [k, v] of Object.entries(extra || {})) if (v !== "" && v != null) out[k] = cut(v); return out; };
  switch (e && e.type) {
    case "session.created": return line("SessionStart", { source: "startup" });
    case "session.idle": return line("Stop", {});
    case "session.status": {
      const t = p.status && p.status.type;
      if (t === "idle") return line("Stop", {});
      if (t === "busy") return line("Busy", {});
      if (t === "retry") return line("Busy", { message: cut((p.status.message || "retrying") + (p.status.attempt ? ` (attempt ${p.status.attempt})` : "")) });
      return null;
    }
    case "permission.asked": return line("PermissionRequest", { tool_name: p.permission, asks: asks(p.metadata) || (p.patterns || []).join(" ") });
    case "permission.replied": return line("PermissionReplied", { reply: p.reply });
    case "message.part.updated": {
      const part = p.part || {}, st = part.state || {};
      if (part.type !== "tool" || st.status !== "error" || typeof st.error !== "string" || !st.error.startsWith(DENIED)) return null;
      return line("RuleDenied", { tool_name: part.tool, asks: asks(st.input), rule: rules(st.error) });
    }
    case "session.error": return line("StopFailure", { error: cut((p.error && (p.error.data && p.error.data.message || p.error.name)) || "error") });
    default: return null;
  }
}
export const PaneboardEvents = async () => ({
  event: async ({ event }) => {
    try { const line = normalise(event); if (line) appendFileSync(FILE, JSON.stringify({ at: Date.now() / 1000, ...line }) + "\n"); } catch (_) {}
  },
});
"""


def plugin(events_file) -> str:
    """The plugin's JavaScript for one events file."""
    import json
    return _PLUGIN.replace("__EVENTS_FILE__", json.dumps(str(events_file)))


def install(common_dir, name: str, allow=(), deny=(), env=None):
    """The plugin beside the events file, and the environment that loads it (the user's own config kept)."""
    import json
    from . import Channel, rules, write_private
    from .. import hooks
    base = hooks.hooks_dir(common_dir) / hooks.slug(name)
    js = write_private(base.with_name(base.name + ".opencode.js"), plugin(hooks.events_path(common_dir, name)))
    config: dict = {"$schema": "https://opencode.ai/config.json", "plugin": [js.resolve().as_uri()]}
    if allow or deny:
        config["permission"] = rules.opencode(tuple(allow), tuple(deny))
    theirs = (env or {}).get("OPENCODE_CONFIG_CONTENT")
    content = merged(theirs, config) if theirs else config
    if content is None:
        js.unlink()
        return Channel(notices=(f"{name}: your OPENCODE_CONFIG_CONTENT is not plain JSON, so paneboard left it as it "
                                f"is and added neither its event plugin nor the task's allow/deny rules: the screen "
                                f"tells this agent's status",))
    return Channel(env={"OPENCODE_CONFIG_CONTENT": json.dumps(content, ensure_ascii=False)}, files=(js,))


def merged(theirs: str, ours: dict) -> dict | None:
    """A user's own config content with paneboard's plugin added and its rules over theirs; None if not a JSON object."""
    import json
    try:
        data = json.loads(theirs)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    out = dict(data)
    plugins = data.get("plugin") if isinstance(data.get("plugin"), list) else []
    out["plugin"] = [*plugins, *ours["plugin"]]
    if "permission" in ours:
        out["permission"] = _rules_over(data.get("permission"), ours["permission"])
    return out


def _rules_over(theirs, rules: dict) -> dict:
    """The task's `permission` rules over the user's: per tool, their patterns kept unless the task names them."""
    out = dict(theirs) if isinstance(theirs, dict) else {}
    for tool, rule in rules.items():
        mine = out.get(tool)
        out[tool] = {**mine, **rule} if isinstance(rule, dict) and isinstance(mine, dict) else rule
    return out


def parse(data: dict) -> dict | None:
    """An OpenCode bus event ({type, properties}) -> an events line, as the plugin writes it."""
    p = data.get("properties") if isinstance(data.get("properties"), dict) else {}
    info = p.get("info") if isinstance(p.get("info"), dict) else {}
    sid = p.get("sessionID") or info.get("id")
    kind = data.get("type")
    if kind == "session.created":
        return event("SessionStart", "opencode", sid, source="startup")
    if kind == "session.idle":
        return event("Stop", "opencode", sid)
    if kind == "session.status":
        status = p.get("status") if isinstance(p.get("status"), dict) else {}
        if status.get("type") == "idle":
            return event("Stop", "opencode", sid)
        if status.get("type") == "busy":
            return event("Busy", "opencode", sid)
        if status.get("type") == "retry":
            attempt = f" (attempt {status['attempt']})" if status.get("attempt") else ""
            return event("Busy", "opencode", sid, message=(status.get("message") or "retrying") + attempt)
        return None
    if kind == "permission.asked":
        patterns = p.get("patterns") if isinstance(p.get("patterns"), list) else []
        return event("PermissionRequest", "opencode", sid, tool_name=p.get("permission"),
                     asks=asks(p.get("metadata")) or " ".join(str(x) for x in patterns))
    if kind == "permission.replied":
        return event("PermissionReplied", "opencode", sid, reply=p.get("reply"))
    if kind == "message.part.updated":
        return _rule_denied(p.get("part") if isinstance(p.get("part"), dict) else {}, sid)
    if kind == "session.error":
        err = p.get("error") if isinstance(p.get("error"), dict) else {}
        data_ = err.get("data") if isinstance(err.get("data"), dict) else {}
        return event("StopFailure", "opencode", sid, error=data_.get("message") or err.get("name") or "error")
    return None


_DENIED = "The user has specified a rule which prevents you from using this specific tool call."


def _rule_denied(part: dict, sid) -> dict | None:
    """A tool part that failed because a `permission` rule denied it -> a RuleDenied line, else None."""
    import json
    state = part.get("state") if isinstance(part.get("state"), dict) else {}
    err = state.get("error")
    if part.get("type") != "tool" or state.get("status") != "error" or not isinstance(err, str) \
            or not err.startswith(_DENIED):
        return None
    try:
        named = json.loads(err[err.index("["):])
        rule = ", ".join(f"{r['permission']}({r['pattern']}): {r['action']}" for r in named)
    except (ValueError, TypeError, KeyError):
        rule = ""
    return event("RuleDenied", "opencode", part.get("sessionID") or sid, tool_name=part.get("tool"),
                 asks=asks(state.get("input")), rule=rule)
