"""The AMI adapter: learning from Asterisk's Manager Interface who answered and who took a
transfer, for calls routed in either mode (learner.py: AMI events -> call events, pure;
connection.py: the AMI connection, which puts those call events in the journal)."""
