"""git plumbing: worktrees and branches, review diffs, safe merges, archives, checks, and object reads.

Every git call is an argv list (subprocess, never a shell), except reading objects, which goes
through GitPython's object database (`objects`); ARCHITECTURE.md says why.
"""
