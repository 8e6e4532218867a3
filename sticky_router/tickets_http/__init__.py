"""The generic HTTP ticket source: any CRM, billing or helpdesk that serves the JSON contract of
docs/ticket-sources.md (`contract.py` checks every answer; `client.py` is the source;
`example_service.py` serves the contract from a JSON file, for trying it out and for the tests).
An adapter beside ari_app, ami, agi and web: it imports the core and no other adapter."""
