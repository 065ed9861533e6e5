"""A task's `allow:` and `deny:` rules: validated with file:line, kept on the agent's record for restart."""

from __future__ import annotations

import pytest

from app.config import parse
from app.errors import ConfigError


def test_rules_parse_per_task_and_are_off_unless_given():
    tf = parse("tasks:\n  - name: a\n    allow: [Bash(npm test*), Edit(src/**)]\n    deny: Bash(rm *)\n"
               "  - name: b\n")
    a, b = tf.tasks
    assert (a.allow, a.deny) == (("Bash(npm test*)", "Edit(src/**)"), ("Bash(rm *)",))
    assert (b.allow, b.deny) == ((), ())


@pytest.mark.parametrize("value, line, field", [
    ("[Bash(npm test*), 'rm -rf /']", 3, "tasks[0] (a).allow[1]"),
    ("Bash()", 3, "tasks[0] (a).allow"),
    ("{x: 1}", 3, "tasks[0] (a).allow"),
])
def test_a_bad_rule_is_one_line_with_file_line_and_field(value, line, field):
    with pytest.raises(ConfigError) as err:
        parse(f"tasks:\n  - name: a\n    allow: {value}\n", "pb.yaml")
    text = str(err.value)
    assert text.startswith(f"pb.yaml:{line}:") and "\n" not in text
    assert field.split(" (")[0] in text
