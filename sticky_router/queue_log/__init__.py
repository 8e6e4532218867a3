"""The queue_log adapter: learning afterwards, from Asterisk's own record of its queues, the calls
the router did not see (it was down, restarting, or cut off from Asterisk), so the first
callback after an outage is still sticky.

records.py: one queue_log line -> the call events it implies (pure); follower.py: reads the file
as Asterisk appends to it, and puts those events in the journal.
"""
