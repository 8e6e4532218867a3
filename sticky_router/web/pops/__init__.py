"""A ringing call on the agent's screen: the ringing report dispatched, the pop stored, viewed in
the agent's words and pushed to their open screens; and the window in which a call stays the
agent's to see (call_access.py), which the agent room's actions obey too."""
