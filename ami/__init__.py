"""The AMI adapter: learning from Asterisk's Manager Interface who answered and who took a
transfer, for calls routed in either mode (learner.py: events -> writes, pure; connection.py:
the AMI connection and the writes run beside it)."""
