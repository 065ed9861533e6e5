"""The mock model server's answers, one function per API, each in that API's own wire format."""

from __future__ import annotations

import json
import time

from tests.live.mockmodel import Quota, RateLimit, Text, ToolCall, pieces

SIDE_ANSWER = "Mock title"
DEFAULT = Text("ok", seconds=0.2)


def answer(h, model, path: str, query: str, body: dict, turn) -> str:
    """Answer one POST in the format its path calls for; returns a short note of what was answered."""
    if path.endswith(("/v1/messages/count_tokens", "/count_tokens")):
        h._json(200, {"input_tokens": 10})
        return "count_tokens"
    if ":countTokens" in path:
        h._json(200, {"totalTokens": 10})
        return "countTokens"
    if turn is None:
        turn = DEFAULT if model.main_requests() and _is_main(model, path, body) else Text(SIDE_ANSWER, 0)
    for suffix, fn in (("/messages", anthropic), ("/responses", responses),
                       ("/chat/completions", chat), ("enerateContent", gemini)):
        if path.endswith(suffix) or suffix in path:
            fn(h, model, path, body, turn)
            return type(turn).__name__
    h._json(404, {"error": {"message": f"mock has no {path}"}})
    return "404"


def _is_main(model, path, body) -> bool:
    return bool(model._main(path, body))


# --- Anthropic Messages (Claude Code) ---------------------------------------------------------

def anthropic(h, model, path: str, body: dict, turn) -> None:
    if isinstance(turn, RateLimit):
        h._json(429, {"type": "error", "error": {"type": "rate_limit_error",
                "message": "Number of request tokens has exceeded your per-minute rate limit"}},
                {"retry-after": "1", "x-should-retry": "false", "request-id": model.next_id("req_")})
        return
    if isinstance(turn, Quota):
        h._json(400, {"type": "error", "error": {"type": "invalid_request_error",
                "message": "Your credit balance is too low to access the Anthropic API. Please go to "
                           "Plans & Billing to upgrade or purchase credits."}},
                {"x-should-retry": "false", "request-id": model.next_id("req_")})
        return
    msg_id = model.next_id("msg_")
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if isinstance(turn, ToolCall):
        block = {"type": "tool_use", "id": model.next_id("toolu_"), "name": "Bash",
                 "input": {"command": turn.command, "description": "Run the command"}}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": turn.text}
        stop = "end_turn"
    if not body.get("stream"):
        h._json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": body.get("model", "mock"),
                      "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage})
        return
    h.start_sse()
    h.sse({"type": "message_start", "message": {"id": msg_id, "type": "message", "role": "assistant",
           "model": body.get("model", "mock"), "content": [], "stop_reason": None, "stop_sequence": None,
           "usage": {**usage, "output_tokens": 1}}}, "message_start")
    if block["type"] == "text":
        h.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              "content_block_start")
        for piece, pause in pieces(turn.text, turn.seconds, turn.delay):
            time.sleep(pause)
            h.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                  "content_block_delta")
    else:
        h.sse({"type": "content_block_start", "index": 0,
               "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}},
              "content_block_start")
        h.sse({"type": "content_block_delta", "index": 0,
               "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}},
              "content_block_delta")
    h.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    h.sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
           "usage": {"output_tokens": 5}}, "message_delta")
    h.sse({"type": "message_stop"}, "message_stop")


# --- OpenAI Responses (Codex) -----------------------------------------------------------------

def _codex_call(body: dict, command: str) -> tuple[str, dict]:
    """The shell tool the request offers and its arguments for `command`."""
    names = [t.get("name") or (t.get("function") or {}).get("name") for t in body.get("tools") or []]
    # Asking to leave the sandbox makes Codex ask the user first (approval_policy "on-request").
    escalate = {"sandbox_permissions": "require_escalated", "justification": "The task needs this file."}
    if "shell_command" in names:
        return "shell_command", {"command": command, **escalate}
    if "exec_command" in names:
        return "exec_command", {"cmd": command, **escalate}
    return "shell", {"command": ["bash", "-lc", command]}


def responses(h, model, path: str, body: dict, turn) -> None:
    if isinstance(turn, (RateLimit, Quota)):
        if isinstance(turn, RateLimit):
            err = {"type": "requests", "code": "rate_limit_exceeded",
                   "message": "Rate limit reached for mock in organization org-mock on requests per min (RPM): "
                              "Limit 3, Used 3, Requested 1. Please try again in 20s."}
        else:
            err = {"type": "insufficient_quota", "code": "insufficient_quota",
                   "message": "You exceeded your current quota, please check your plan and billing details."}
        h._json(429, {"error": err}, {"retry-after": "1"})
        return
    resp_id = model.next_id("resp_")
    h.start_sse()
    h.sse({"type": "response.created", "response": {"id": resp_id, "status": "in_progress"}},
          "response.created")
    if isinstance(turn, ToolCall):
        name, args = _codex_call(body, turn.command)
        item = {"type": "function_call", "id": model.next_id("fc_"), "call_id": model.next_id("call_"),
                "name": name, "arguments": json.dumps(args), "status": "completed"}
        h.sse({"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}},
              "response.output_item.added")
        h.sse({"type": "response.output_item.done", "output_index": 0, "item": item}, "response.output_item.done")
    else:
        item_id = model.next_id("msg_")
        h.sse({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress",
                        "content": []}}, "response.output_item.added")
        for piece, pause in pieces(turn.text, turn.seconds, turn.delay):
            time.sleep(pause)
            h.sse({"type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
                   "content_index": 0, "delta": piece}, "response.output_text.delta")
        h.sse({"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "message", "id": item_id, "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": turn.text, "annotations": []}]}},
              "response.output_item.done")
    h.sse({"type": "response.completed", "response": {
        "id": resp_id, "status": "completed", "output": [],
        "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}}},
        "response.completed")


# --- Gemini (Gemini CLI) ----------------------------------------------------------------------

def gemini(h, model, path: str, body: dict, turn) -> None:
    if isinstance(turn, RateLimit):
        h._json(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                "message": "Resource has been exhausted (e.g. check quota).",
                "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                    {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                     "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}]}})
        return
    if isinstance(turn, Quota):
        h._json(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                    {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                     "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})
        return
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    if isinstance(turn, ToolCall):
        parts = [{"functionCall": {"name": "run_shell_command",
                                   "args": {"command": turn.command, "description": "Run the command"}}}]
        chunks = [(parts, 0.0)]
    elif not _is_main(model, path, body) and "responseSchema" in json.dumps(body.get("generationConfig") or {}):
        # A side request that wants JSON (the next-speaker check): the user speaks next.
        chunks = [([{"text": json.dumps({"reasoning": "The turn is complete.", "next_speaker": "user"})}], 0.0)]
    else:
        chunks = [([{"text": p}], pause) for p, pause in pieces(turn.text, turn.seconds, turn.delay)]
    if "streamGenerateContent" not in path:
        text_parts = [p for parts, _ in chunks for p in parts]
        h._json(200, {"candidates": [{"content": {"role": "model", "parts": text_parts}, "finishReason": "STOP",
                                      "index": 0}], "usageMetadata": usage})
        return
    h.start_sse()
    for i, (parts, pause) in enumerate(chunks):
        time.sleep(pause)
        cand = {"content": {"role": "model", "parts": parts}, "index": 0}
        last = i == len(chunks) - 1
        if last:
            cand["finishReason"] = "STOP"
        h.sse({"candidates": [cand], **({"usageMetadata": usage} if last else {}), "modelVersion": "mock"})


# --- OpenAI Chat Completions (aider, OpenCode) ------------------------------------------------

def chat(h, model, path: str, body: dict, turn) -> None:
    if isinstance(turn, (RateLimit, Quota)):
        responses(h, model, path, body, turn)     # the same error bodies as OpenAI's other endpoints
        return
    cid, created, name = model.next_id("chatcmpl-"), int(time.time()), body.get("model", "mock")

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    if isinstance(turn, ToolCall) and not body.get("tools"):
        # No tools offered (aider): the model proposes the command in a shell block.
        turn = Text(f"Run this:\n\n```bash\n{turn.command}\n```\n", seconds=0.5)
    if not body.get("stream"):
        message = {"role": "assistant", "content": turn.text if isinstance(turn, Text) else None}
        h._json(200, {"id": cid, "object": "chat.completion", "created": created, "model": name,
                      "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        return
    h.start_sse()
    h.sse(chunk({"role": "assistant", "content": ""}))
    if isinstance(turn, ToolCall):
        args = {"command": turn.command, "description": "Run the command"}
        h.sse(chunk({"tool_calls": [{"index": 0, "id": model.next_id("call_"), "type": "function",
                                     "function": {"name": "bash", "arguments": json.dumps(args)}}]}))
        h.sse(chunk({}, "tool_calls"))
    else:
        for piece, pause in pieces(turn.text, turn.seconds, turn.delay):
            time.sleep(pause)
            h.sse(chunk({"content": piece}))
        h.sse(chunk({}, "stop"))
    h.sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name, "choices": [],
           "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
    h.sse("[DONE]")
