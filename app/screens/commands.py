"""Command palette entries: every agent action by name ("attach fix-login", "stop parser-2")."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (verb, action on the dashboard, help) — the dashboard's actions act on the selected agent.
AGENT_VERBS = (
    ("Attach to", "attach", "attach this terminal to the agent's pane"),
    ("Reply to", "reply", "type a line into the agent"),
    ("Approve", "approve", "answer the agent's question with yes"),
    ("Reject", "reject", "answer the agent's question with no"),
    ("Stop", "kill", "stop the agent (asks first; work is kept)"),
    ("Review", "review", "side-by-side diff of the agent's work against its base"),
    ("Compare", "compare", "compare with the other candidates of its task"),
    ("Check", "check", "run the agent's check command"),
    ("Merge", "merge", "approve: commit, check and merge into the base (asks first)"),
    ("Discard", "discard", "archive the agent's work, then remove it (asks first)"),
    ("Show output log of", "output_log", "the agent's recorded output"),
    ("Acknowledge triggers of", "acknowledge", "hide the agent's triggers until they fire again"),
    ("Snooze triggers of", "snooze", "hide the agent's triggers for 10 minutes"),
)


class AgentCommands(Provider):
    """Offers each agent action for each agent, plus starting a new one."""

    def _commands(self):
        app = self.app
        yield "New agent", partial(app.run_action, "spawn"), "start a new agent"
        yield "Conflict matrix", partial(app.run_action, "conflicts"), "which agents would conflict, on which files"
        for name in getattr(app, "agents", {}):
            for verb, action, help_text in AGENT_VERBS:
                yield f"{verb} {name}", partial(self._on_agent, name, action), help_text

    async def _on_agent(self, name: str, action: str) -> None:
        self.app.select_agent(name)
        await self.app.run_action(action)

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
