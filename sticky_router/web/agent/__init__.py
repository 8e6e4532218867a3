"""The agent's screen: its page, its API, what an agent may do about a call, their callbacks.
Which calls are the agent's to see is the pops room's rule (pops/call_access.py)."""
