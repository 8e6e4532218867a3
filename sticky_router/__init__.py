"""sticky-router: sticky routing for Asterisk support lines.

The one package the wheel installs; each subpackage is a room of docs/architecture.md:
routing_core (the decision, knowing nothing of Asterisk or HTTP), the adapters side by side
around it (ari_app, ami, agi, web, queue_log, tickets_http, tickets_redmine, with
ticket_transport beside the two HTTP ticket sources), migrations, and process, which wires them
into the `sticky-router` command.
"""
